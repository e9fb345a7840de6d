# Shared by the load scripts (verify.sh, system.sh): sourced, not run.
#
# Needs: $SCRIPTS (this directory). Provides: ensure_tools, run_wrk (fills RPS/P50/P99/CPU/REQ for
# a scenario name), server_ticks, wait_ready, register_channel, issue_tokens, table_row, make_workdir.

declare -A RPS P50 P99 CPU REQ

ensure_tools() {
  if ! command -v wrk >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
}

# CPU ticks (user + system) used so far by process $server.
server_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }

wait_ready() {
  for _ in $(seq 200); do curl -sf "$1/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "server at $1 did not come up" >&2
  return 1
}

# run_wrk NAME SCRIPT [VAR=value ...]: a 2 s warm-up, then the measured run against $target with
# $THREADS threads and ${CONNS_OVERRIDE:-$CONNS} connections for $DURATION s. Records req/s, p50
# and p99 (ms), the server's CPU per request (µs, from /proc: wrk's own CPU is not counted) and
# the request count. Any socket error or non-2xx answer fails the run.
run_wrk() {
  local name=$1 script=$2
  shift 2
  local conns=${CONNS_OVERRIDE:-$CONNS} t0 out used line
  env "$@" CONNS="$conns" wrk -t"$THREADS" -c"$conns" -d2s -s "$SCRIPTS/$script" "$target" >/dev/null
  t0=$(server_ticks)
  out=$(env "$@" CONNS="$conns" wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency -s "$SCRIPTS/$script" "$target")
  used=$(($(server_ticks) - t0))
  line=$(grep '^RESULT' <<<"$out")
  local req dur p50 p99 err
  req=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  dur=$(sed -E 's/.*duration_us=([0-9]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
  err=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  if [ "$err" != 0 ]; then
    echo "$name: $err errors or non-2xx answers" >&2
    echo "$out" >&2
    exit 1
  fi
  REQ[$name]=$req
  RPS[$name]=$(awk -v r="$req" -v d="$dur" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
  P50[$name]=$(awk -v v="$p50" 'BEGIN {printf "%.2f", v / 1000}')
  P99[$name]=$(awk -v v="$p99" 'BEGIN {printf "%.2f", v / 1000}')
  CPU[$name]=$(awk -v u="$used" -v hz="$(getconf CLK_TCK)" -v r="$req" 'BEGIN {printf "%.1f", u / hz * 1e6 / r}')
  echo "  $name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms" >&2
}

# One Markdown table row: scenario, req/s, p50, p99, server CPU, ratio to the named baseline.
table_row() {
  local s=$1 base=$2
  local ratio
  ratio=$(awk -v a="${RPS[$s]}" -v b="${RPS[$base]}" 'BEGIN {printf "%.2f", a / b}')
  echo "| $s | ${RPS[$s]} | ${P50[$s]} | ${P99[$s]} | ${CPU[$s]} | $ratio |"
}

# register_channel BASE: the official channel the load tests' sessions run on (@acme_support on
# Telegram), registered by $ADMIN for the agent $AGENT_ID.
register_channel() {
  curl -sf -X POST "$1/v1/channels" -H "Authorization: Bearer $ADMIN" \
    -H 'content-type: application/json' \
    -d "{\"kind\":\"telegram\",\"value\":\"@acme_support\",\"agent_id\":\"$AGENT_ID\"}" >/dev/null
}

# issue_tokens BASE: $TOKENS sessions issued through POST /v1/sessions as $AGENT_KEY, one token per
# line in $TOKENS_FILE: the load tests verify tokens the service really issued.
issue_tokens() {
  echo "Issuing $TOKENS sessions through POST /v1/sessions ..." >&2
  : >"$TOKENS_FILE"
  # wrk's thread:stop() ends the sending but not wrk itself: stop it once the file is full.
  wrk -t1 -c8 -d600s -s "$SCRIPTS/issue.lua" "$1" >/dev/null &
  local issuer=$!
  while kill -0 "$issuer" 2>/dev/null && [ "$(wc -l <"$TOKENS_FILE")" -lt "$TOKENS" ]; do sleep 0.5; done
  kill "$issuer" 2>/dev/null || true
  wait "$issuer" 2>/dev/null || true
  echo "  $(wc -l <"$TOKENS_FILE") tokens" >&2
}

# make_workdir: a fresh temporary directory in $work; on exit the server whose pid is in $server
# (if any) is stopped and the directory removed.
make_workdir() {
  work=$(mktemp -d)
  server=""
  trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
}
