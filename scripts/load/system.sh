#!/usr/bin/env bash
# Whole-system load test against a production build (Cargo.toml `[profile.production]`) on loopback, every figure from one run on one
# machine, each with /healthz of the same server as its yardstick:
#
#   1. data ×1 (DATA sessions, reports and audit entries; 1k queued escalations):
#      /healthz; distinct-token verify at peak and paced at half of peak (p99);
#      the mixed public workload (verify / channel check / report status, 5:3:2);
#      escalation claim+release; report intake with 1 MiB attachments, against the disk's raw
#      fsync'd write rate for the same file size and concurrency (scripts/load/fsync.py);
#   2. data ×GROWTH (sessions, reports, audit entries), queue still 1k: the same scenarios, to
#      show which operations stay flat as the data grows;
#   3. data ×GROWTH, queue depth 100k (99k more queued escalations): claim+release again, to
#      compare with phase 2's claims at depth 1k.
#
#   scripts/load/system.sh                      # defaults below, about 5 minutes
#   DATA=50000 DURATION=15 scripts/load/system.sh
#
# Needs wrk (installed with apt-get when missing, as root) and python3 (seeding, raw fsync rate).
# Bulk data is seeded with SQL while the server is stopped (scripts/load/seed.py); tokens are
# issued through the API. Uses its own temporary directory; never touches ./data or ./keys.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-8}          # seconds per measured scenario (after a 2 s warm-up)
CONNS=${CONNS:-32}               # concurrent connections
INTAKE_CONNS=${INTAKE_CONNS:-8}  # concurrent 1 MiB uploads (and raw writers)
THREADS=${THREADS:-2}            # wrk threads
TOKENS=${TOKENS:-20000}          # distinct tokens issued through the API
DATA=${DATA:-20000}              # sessions, reports and audit entries at ×1
GROWTH=${GROWTH:-10}             # the data multiplier of phase 3
CACHE=${CACHE:-1000}             # signature cache entries: far below TOKENS
PORT=${PORT:-18490}
PROFILE=${PROFILE:-production}   # cargo profile: what a deployment builds (Cargo.toml)

export SCRIPTS="$PWD/scripts/load"
. "$SCRIPTS/lib.sh"
ensure_tools
cargo build --profile "$PROFILE" --locked --quiet

make_workdir

export TOKENS_FILE="$work/tokens" RECEIPTS_FILE="$work/receipts" TOKENS
export TRUSTDESK_DATABASE_URL="sqlite://$work/td.db" TRUSTDESK_KEYS_DIR="$work/keys" \
  TRUSTDESK_ATTACHMENTS_DIR="$work/attachments" TRUSTDESK_BIND="127.0.0.1:$PORT" \
  TRUSTDESK_PUBLIC_BASE_URL="http://127.0.0.1:$PORT" TRUSTDESK_RATE_LIMITS=off \
  TRUSTDESK_VERIFY_CACHE_ENTRIES="$CACHE" TRUSTDESK_MAX_CONCURRENT_REQUESTS=4096 RUST_LOG=warn
td=./target/$PROFILE/trustdesk
target="http://127.0.0.1:$PORT"

start_server() {
  $td serve 2>>"$work/server.log" &
  server=$!
  wait_ready "$target"
}
stop_server() {
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
}
seed() { python3 "$SCRIPTS/seed.py" "$work/td.db" --agent-id "$AGENT_ID" "$@"; }
count() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$work/td.db" "$1"; }
sizes() {
  echo "$(count 'SELECT COUNT(*) FROM sessions') sessions, $(count 'SELECT COUNT(*) FROM reports') reports," \
    "$(count 'SELECT COUNT(*) FROM audit_log') audit entries, $(count "SELECT COUNT(*) FROM escalations WHERE state = 'queued'") queued escalations," \
    "database $(du -sm "$work"/td.db* | awk '{s += $1} END {print s}') MiB"
}
raw_fsync() {
  local out
  out=$(python3 "$SCRIPTS/fsync.py" "$work/raw" --writers "$1" --seconds "$DURATION")
  sed -E 's/.*mib_per_s=([0-9.]+).*/\1/' <<<"$out"
}
mib_per_s() { awk -v r="${RPS[$1]}" 'BEGIN {printf "%.1f", r}'; } # one MiB per request

$td migrate >/dev/null
ADMIN=$($td staff add --name load-admin --role admin)
export AGENT_KEY SEC_KEY
AGENT_KEY=$($td staff add --name load-agent --role agent)
SEC_KEY=$($td staff add --name load-sec --role security)
AGENT_ID=$($td staff list | awk -F'\t' '$3=="load-agent" {print $1; exit}')

start_server
register_channel "$target"
issue_tokens "$target"
stop_server

echo "Phase 1: data ×1, queue depth 1k ..." >&2
seed --sessions "$DATA" --reports "$DATA" --audit "$DATA" --queue 1000 --receipts "$RECEIPTS_FILE"
SIZE_1=$(sizes)
echo "  $SIZE_1" >&2
start_server
run_wrk healthz_1 healthz.lua
run_wrk verify_1 distinct.lua MODE=api
HALF=$((RPS[verify_1] / 2))
run_wrk verify_half_1 distinct.lua MODE=api RATE="$HALF"
run_wrk mixed_1 mixed.lua
run_wrk claim_1 claim.lua
RAW_N=$(raw_fsync "$INTAKE_CONNS")
RAW_1=$(raw_fsync 1)
CONNS_OVERRIDE=$INTAKE_CONNS run_wrk intake_1 intake.lua
stop_server

echo "Phase 2: data ×$GROWTH, queue depth 1k ..." >&2
more=$((DATA * (GROWTH - 1)))
seed --sessions "$more" --reports "$more" --audit "$more" --offset "$DATA"
SIZE_G=$(sizes)
echo "  $SIZE_G" >&2
start_server
run_wrk healthz_g healthz.lua
run_wrk verify_g distinct.lua MODE=api
run_wrk mixed_g mixed.lua
run_wrk claim_g claim.lua
RAW_G=$(raw_fsync "$INTAKE_CONNS")
CONNS_OVERRIDE=$INTAKE_CONNS run_wrk intake_g intake.lua
stop_server

echo "Phase 3: data ×$GROWTH, queue depth 100k ..." >&2
seed --queue 99000 --offset 1000
SIZE_Q=$(sizes)
echo "  $SIZE_Q" >&2
start_server
run_wrk healthz_q healthz.lua
run_wrk claim_q claim.lua
stop_server

cpus=$(nproc)
model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "Machine: $cpus CPUs ($model); wrk -t$THREADS -c$CONNS (intake -c$INTAKE_CONNS), ${DURATION}s per scenario after a 2 s warm-up."
echo
echo "### Data ×1: $SIZE_1"
echo
echo "| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | req/s ÷ healthz |"
echo "|---|---:|---:|---:|---:|---:|"
for s in healthz_1 verify_1 verify_half_1 mixed_1 claim_1 intake_1; do table_row "$s" healthz_1; done
echo
echo "- Distinct-token verify ÷ healthz: $(ratio "${RPS[verify_1]}" "${RPS[healthz_1]}") (target ≥ 0.21); p99 at about half of peak (${RPS[verify_half_1]} req/s): ${P99[verify_half_1]} ms (target < 5 ms)."
echo "- Report intake, 1 MiB attachments, $INTAKE_CONNS uploads at a time: $(mib_per_s intake_1) MiB/s; the same disk's raw fsync'd 1 MiB writes: $RAW_N MiB/s with $INTAKE_CONNS writers, $RAW_1 MiB/s with one. Intake ÷ raw: $(ratio "$(mib_per_s intake_1)" "$RAW_N") (target ≥ 0.50)."
echo
echo "### Data ×$GROWTH: $SIZE_G"
echo
echo "| scenario | req/s ×1 | req/s ×$GROWTH | ×$GROWTH ÷ ×1 | p99 ms ×1 | p99 ms ×$GROWTH | CPU µs/req ×1 | CPU µs/req ×$GROWTH |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for pair in healthz_1:healthz_g verify_1:verify_g mixed_1:mixed_g claim_1:claim_g intake_1:intake_g; do
  a=${pair%%:*} b=${pair##*:}
  echo "| ${a%_*} | ${RPS[$a]} | ${RPS[$b]} | $(ratio "${RPS[$b]}" "${RPS[$a]}") | ${P99[$a]} | ${P99[$b]} | ${CPU[$a]} | ${CPU[$b]} |"
done
echo
echo "- Raw fsync'd writes in phase 2: $RAW_G MiB/s with $INTAKE_CONNS writers; intake ÷ raw: $(ratio "$(mib_per_s intake_g)" "$RAW_G")."
echo
echo "### Claims against queue depth, at data ×$GROWTH: $SIZE_Q"
echo
echo "Claim and release alternate (both are audited, committed writes), so the depth stays put."
echo
echo "| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | req/s ÷ healthz |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| claim, depth 1k | ${RPS[claim_g]} | ${P50[claim_g]} | ${P99[claim_g]} | ${CPU[claim_g]} | $(ratio "${RPS[claim_g]}" "${RPS[healthz_g]}") |"
echo "| claim, depth 100k | ${RPS[claim_q]} | ${P50[claim_q]} | ${P99[claim_q]} | ${CPU[claim_q]} | $(ratio "${RPS[claim_q]}" "${RPS[healthz_q]}") |"
echo
echo "- Depth 100k ÷ depth 1k, req/s: $(ratio "${RPS[claim_q]}" "${RPS[claim_g]}"); server CPU per request: $(ratio "${CPU[claim_q]}" "${CPU[claim_g]}")."
