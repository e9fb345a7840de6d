#!/usr/bin/env bash
# Verification load test against a production build (Cargo.toml `[profile.production]`) on loopback, in one run:
#   /healthz, distinct-token POST /v1/verify, distinct-token GET /v/{token}, repeated-token
#   POST /v1/verify.
# For each: req/s, p50, p99 (wrk), the server's CPU per request (from /proc, so wrk's own CPU is
# not counted), and the ratio to /healthz. Then the same two measurements against a bare axum
# server (scripts/load/floor: /healthz, and /v1/verify doing one ed25519-dalek verify of the next
# of 4 096 distinct signed messages, as a wave of distinct tokens costs), the floor
# on this machine, and $ROUNDS rounds alternating Trustdesk's and the floor's distinct-token verify
# (the ratio of each pair, and the median). Prints Markdown tables for docs/performance.md.
#
#   scripts/load/verify.sh                    # defaults below
#   DURATION=20 CONNS=64 scripts/load/verify.sh
#   PROFILE=release scripts/load/verify.sh    # a plain release build of both servers instead
#   PGO=1 scripts/load/verify.sh              # both servers profile-guided (scripts/pgo.sh; ~20 min more)
#   PGO=built scripts/load/verify.sh          # the profile-guided binaries scripts/pgo.sh built before
#
# Needs wrk (installed with apt-get when missing and run as root). Uses its own temporary database
# and keys; never touches ./data or ./keys.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10}       # seconds per scenario
CONNS=${CONNS:-32}             # concurrent connections
THREADS=${THREADS:-2}          # wrk threads
TOKENS=${TOKENS:-20000}        # distinct tokens issued through the API beforehand
CACHE=${CACHE:-1000}           # signature cache entries: far below TOKENS, so distinct runs miss
PORT=${PORT:-18480}
ROUNDS=${ROUNDS:-5}            # alternating Trustdesk / floor rounds; single rounds differ by ±0.05, read the median
PROFILE=${PROFILE:-production} # cargo profile of both servers: what a deployment builds (Cargo.toml)
PGO=${PGO:-0}                  # 1: build both with scripts/pgo.sh and measure those; built: reuse them

export SCRIPTS="$PWD/scripts/load"
. "$SCRIPTS/lib.sh"
ensure_tools
if [ "$PGO" = 0 ]; then
  echo "Building both servers with --profile $PROFILE (the first build takes a while) ..." >&2
  cargo build --profile "$PROFILE" --locked --quiet
  cargo build --profile "$PROFILE" --locked --quiet --manifest-path scripts/load/floor/Cargo.toml
  td=./target/$PROFILE/trustdesk
  floor_bin=scripts/load/floor/target/$PROFILE/trustdesk-load-floor
  built="both servers built with --profile $PROFILE"
else
  if [ "$PGO" = 1 ]; then
    scripts/pgo.sh >/dev/null
    scripts/pgo.sh floor >/dev/null
  fi
  td=./target/pgo/production/trustdesk
  floor_bin=scripts/load/floor/target/pgo/production/trustdesk-load-floor
  built="both servers built profile-guided (scripts/pgo.sh)"
fi

make_workdir

export TOKENS_FILE="$work/tokens" TOKENS
export TRUSTDESK_DATABASE_URL="sqlite://$work/td.db" TRUSTDESK_KEYS_DIR="$work/keys" \
  TRUSTDESK_ATTACHMENTS_DIR="$work/attachments" TRUSTDESK_BIND="127.0.0.1:$PORT" \
  TRUSTDESK_PUBLIC_BASE_URL="http://127.0.0.1:$PORT" TRUSTDESK_RATE_LIMITS=off \
  TRUSTDESK_VERIFY_CACHE_ENTRIES="$CACHE" TRUSTDESK_MAX_CONCURRENT_REQUESTS=4096 RUST_LOG=warn
base="http://127.0.0.1:$PORT"

$td migrate >/dev/null
ADMIN=$($td staff add --name load-admin --role admin)
export AGENT_KEY
AGENT_KEY=$($td staff add --name load-agent --role agent)
AGENT_ID=$($td staff list | awk -F'\t' '$3=="load-agent" || $2=="load-agent" {print $1; exit}')

$td serve 2>"$work/server.log" &
server=$!
wait_ready "$base"
register_channel "$base"

issue_tokens "$base"

metric() {
  curl -s "$base/metrics" | awk -v m="$1" '$1 ~ m {s += $2} END {print s + 0}'
}

target=$base
hits0=$(metric 'trustdesk_verify_cache_total.*result="hit"')
miss0=$(metric 'trustdesk_verify_cache_total.*result="miss"')
run_wrk healthz healthz.lua
run_wrk verify_distinct distinct.lua MODE=api
run_wrk link_distinct distinct.lua MODE=link
hits1=$(metric 'trustdesk_verify_cache_total.*result="hit"')
miss1=$(metric 'trustdesk_verify_cache_total.*result="miss"')
run_wrk verify_repeated repeated.lua

# Every distinct-token answer must have been genuine, not an error page.
curl -s "$base/metrics" | grep -E '^trustdesk_verdicts_total' >&2 || true

# The floor, measured the same way: bare axum, and bare axum + one dalek verify. Both servers stay
# up (an idle one costs nothing); the distinct-token verify is then measured in $ROUNDS rounds that
# alternate Trustdesk and the floor, because this machine's speed drifts by more than the gap
# within minutes: each round's ratio compares two runs made seconds apart.
trustdesk=$server
"$floor_bin" "127.0.0.1:$((PORT + 1))" &
floor=$!
floor_target="http://127.0.0.1:$((PORT + 1))"
wait_ready "$floor_target"
trap 'kill "$floor" "$trustdesk" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
server=$floor target=$floor_target
run_wrk floor_healthz healthz.lua
run_wrk floor_verify distinct.lua MODE=api
ratios=()
for r in $(seq "$ROUNDS"); do
  server=$trustdesk target=$base
  run_wrk "verify_r$r" distinct.lua MODE=api
  server=$floor target=$floor_target
  run_wrk "floor_r$r" distinct.lua MODE=api
  ratios+=("$(awk -v v="${CPU[verify_r$r]}" -v f="${CPU[floor_r$r]}" 'BEGIN {printf "%.2f", v / f}')")
done
server=$trustdesk

hit_rate=$(awk -v h=$((hits1 - hits0)) -v m=$((miss1 - miss0)) 'BEGIN {printf "%.1f", 100 * h / (h + m)}')
cpus=$(nproc)
model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "Machine: $cpus CPUs ($model); wrk -t$THREADS -c$CONNS, ${DURATION}s per scenario, on the same machine; $built."
echo "Distinct-token runs cycle $TOKENS issued tokens through a $CACHE-entry cache: cache hit rate ${hit_rate}%."
echo
echo "| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | req/s ÷ healthz |"
echo "|---|---:|---:|---:|---:|---:|"
for s in healthz verify_distinct link_distinct verify_repeated floor_healthz floor_verify; do
  table_row "$s" healthz
done
echo
awk -v v="${CPU[verify_distinct]}" -v f="${CPU[floor_verify]}" -v h="${CPU[healthz]}" -v fh="${CPU[floor_healthz]}" \
  'BEGIN {printf "Server CPU per request against the bare-axum floor (rows above): verify %.2f×, healthz %.2f×.\n", v / f, h / fh}'
echo
echo "Distinct-token POST /v1/verify, Trustdesk and the floor in alternating rounds (server CPU µs/req):"
echo
echo "| round | Trustdesk | floor | ratio |"
echo "|---|---:|---:|---:|"
for r in $(seq "$ROUNDS"); do
  echo "| $r | ${CPU[verify_r$r]} | ${CPU[floor_r$r]} | ${ratios[$((r - 1))]} |"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo
cpu_median=$(for r in $(seq "$ROUNDS"); do echo "${CPU[verify_r$r]}"; done | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
floor_median=$(for r in $(seq "$ROUNDS"); do echo "${CPU[floor_r$r]}"; done | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo "Median ratio to the floor: ${median}×. Median server CPU per distinct-token verify: Trustdesk ${cpu_median} µs, floor ${floor_median} µs."
awk -v r="${RPS[verify_repeated]}" -v h="${RPS[healthz]}" \
  'BEGIN {printf "Repeated-token verify throughput ÷ healthz: %.2f (target ≥ 0.6).\n", r / h}'
