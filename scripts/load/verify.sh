#!/usr/bin/env bash
# Verification load test against a release build on loopback, in one run:
#   /healthz, distinct-token POST /v1/verify, distinct-token GET /v/{token}, repeated-token
#   POST /v1/verify.
# For each: req/s, p50, p99 (wrk), the server's CPU per request (from /proc, so wrk's own CPU is
# not counted), and the ratio to /healthz. Then the same two measurements against a bare axum
# server (scripts/load/floor: /healthz, and /v1/verify doing one ed25519-dalek verify), the floor
# on this machine. Prints a Markdown table for docs/performance.md.
#
#   scripts/load/verify.sh                    # defaults below
#   DURATION=20 CONNS=64 scripts/load/verify.sh
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

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --locked --quiet
cargo build --release --locked --quiet --manifest-path scripts/load/floor/Cargo.toml

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export SCRIPTS="$PWD/scripts/load" TOKENS_FILE="$work/tokens" TOKENS
export TRUSTDESK_DATABASE_URL="sqlite://$work/td.db" TRUSTDESK_KEYS_DIR="$work/keys" \
  TRUSTDESK_ATTACHMENTS_DIR="$work/attachments" TRUSTDESK_BIND="127.0.0.1:$PORT" \
  TRUSTDESK_PUBLIC_BASE_URL="http://127.0.0.1:$PORT" TRUSTDESK_RATE_LIMITS=off \
  TRUSTDESK_VERIFY_CACHE_ENTRIES="$CACHE" TRUSTDESK_MAX_CONCURRENT_REQUESTS=4096 RUST_LOG=warn
td=./target/release/trustdesk
base="http://127.0.0.1:$PORT"

$td migrate >/dev/null
ADMIN=$($td staff add --name load-admin --role admin)
export AGENT_KEY
AGENT_KEY=$($td staff add --name load-agent --role agent)
AGENT_ID=$($td staff list | awk -F'\t' '$3=="load-agent" || $2=="load-agent" {print $1; exit}')

$td serve 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "$base/v1/channels" -H "Authorization: Bearer $ADMIN" \
  -H 'content-type: application/json' \
  -d "{\"kind\":\"telegram\",\"value\":\"@acme_support\",\"agent_id\":\"$AGENT_ID\"}" >/dev/null

echo "Issuing $TOKENS sessions through POST /v1/sessions ..." >&2
: >"$TOKENS_FILE"
# wrk's thread:stop() ends the sending but not wrk itself: stop it once the file is full.
wrk -t1 -c8 -d600s -s "$SCRIPTS/issue.lua" "$base" >/dev/null &
issuer=$!
while kill -0 "$issuer" 2>/dev/null && [ "$(wc -l <"$TOKENS_FILE")" -lt "$TOKENS" ]; do sleep 0.5; done
kill "$issuer" 2>/dev/null || true
wait "$issuer" 2>/dev/null || true
echo "  $(wc -l <"$TOKENS_FILE") tokens" >&2

ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
trustdesk_pid=$server
hz=$(getconf CLK_TCK)

metric() {
  curl -s "$base/metrics" | awk -v m="$1" '$1 ~ m {s += $2} END {print s + 0}'
}

declare -A RPS P50 P99 CPU
run() {
  local name=$1 script=$2
  shift 2
  local t0 out
  # Warm-up, then the measured run.
  env "$@" wrk -t"$THREADS" -c"$CONNS" -d2s -s "$SCRIPTS/$script" "$target" >/dev/null
  t0=$(ticks)
  out=$(env "$@" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$SCRIPTS/$script" "$target")
  local used=$(($(ticks) - t0))
  local line
  line=$(grep '^RESULT' <<<"$out")
  local req dur p50 p99 err
  req=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  dur=$(sed -E 's/.*duration_us=([0-9]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
  err=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  if [ "$err" != 0 ]; then echo "$name: $err errors or non-2xx answers" >&2; exit 1; fi
  RPS[$name]=$(awk -v r="$req" -v d="$dur" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
  P50[$name]=$(awk -v v="$p50" 'BEGIN {printf "%.2f", v / 1000}')
  P99[$name]=$(awk -v v="$p99" 'BEGIN {printf "%.2f", v / 1000}')
  CPU[$name]=$(awk -v u="$used" -v hz="$hz" -v r="$req" 'BEGIN {printf "%.1f", u / hz * 1e6 / r}')
}

target=$base
hits0=$(metric 'trustdesk_verify_cache_total.*result="hit"')
miss0=$(metric 'trustdesk_verify_cache_total.*result="miss"')
run healthz healthz.lua
run verify_distinct distinct.lua MODE=api
run link_distinct distinct.lua MODE=link
hits1=$(metric 'trustdesk_verify_cache_total.*result="hit"')
miss1=$(metric 'trustdesk_verify_cache_total.*result="miss"')
run verify_repeated repeated.lua

# Every distinct-token answer must have been genuine, not an error page.
curl -s "$base/metrics" | grep -E '^trustdesk_verdicts_total' >&2 || true

# The floor, measured the same way right after: bare axum, and bare axum + one dalek verify.
kill "$server"; wait "$server" 2>/dev/null || true
scripts/load/floor/target/release/trustdesk-load-floor "127.0.0.1:$((PORT + 1))" &
server=$!
target="http://127.0.0.1:$((PORT + 1))"
for _ in $(seq 100); do curl -sf "$target/healthz" >/dev/null && break; sleep 0.1; done
run floor_healthz healthz.lua
run floor_verify distinct.lua MODE=api

hit_rate=$(awk -v h=$((hits1 - hits0)) -v m=$((miss1 - miss0)) 'BEGIN {printf "%.1f", 100 * h / (h + m)}')
cpus=$(nproc)
model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "Machine: $cpus CPUs ($model); wrk -t$THREADS -c$CONNS, ${DURATION}s per scenario, on the same machine."
echo "Distinct-token runs cycle $TOKENS issued tokens through a $CACHE-entry cache: cache hit rate ${hit_rate}%."
echo
echo "| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | req/s ÷ healthz |"
echo "|---|---:|---:|---:|---:|---:|"
for s in healthz verify_distinct link_distinct verify_repeated floor_healthz floor_verify; do
  ratio=$(awk -v a="${RPS[$s]}" -v b="${RPS[healthz]}" 'BEGIN {printf "%.2f", a / b}')
  echo "| $s | ${RPS[$s]} | ${P50[$s]} | ${P99[$s]} | ${CPU[$s]} | $ratio |"
done
echo
awk -v v="${CPU[verify_distinct]}" -v f="${CPU[floor_verify]}" -v h="${CPU[healthz]}" -v fh="${CPU[floor_healthz]}" \
  'BEGIN {printf "Server CPU per request against the bare-axum floor: verify %.2f×, healthz %.2f×.\n", v / f, h / fh}'
awk -v r="${RPS[verify_repeated]}" -v h="${RPS[healthz]}" \
  'BEGIN {printf "Repeated-token verify throughput ÷ healthz: %.2f (target ≥ 0.6).\n", r / h}'
