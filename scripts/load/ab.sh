#!/usr/bin/env bash
# A/B of two Trustdesk binaries on the distinct-token verify, in one run:
#   rounds alternating BASELINE, CANDIDATE and the bare axum + dalek floor (scripts/load/floor), each
#   server's CPU per request, the ratios of each round and their medians; with CALLGRIND=1, then the
#   instructions per request of each binary under the same load (valgrind; repeatable where timings
#   on this machine drift by more than the change being measured).
#
#   scripts/load/ab.sh OLD_BINARY [NEW_BINARY]   # NEW defaults to ./target/production/trustdesk
#   ROUNDS=6 CACHE=16 CALLGRIND=1 scripts/load/ab.sh /tmp/trustdesk.before
#   FLOOR=scripts/load/floor/target/pgo/production/trustdesk-load-floor scripts/load/ab.sh OLD NEW
#
# Keep a copy of the baseline binary before rebuilding (cp target/production/trustdesk /tmp/...).
# Both binaries serve the same database, keys and tokens under the same public base URL (the tokens'
# issuer), and the run fails unless every distinct-token answer was `genuine`: a verdict that took
# another path (a mismatched issuer answers `malformed` after the signature) measures the wrong
# thing. Needs wrk (installed with apt-get when missing, as root) and, for CALLGRIND=1, valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."

OLD=${1:?usage: scripts/load/ab.sh OLD_BINARY [NEW_BINARY]}
NEW=${2:-./target/production/trustdesk}
DURATION=${DURATION:-8}    # seconds per measured run
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
TOKENS=${TOKENS:-20000}
CACHE=${CACHE:-16}         # signature cache entries: 16 makes practically every request a miss
ROUNDS=${ROUNDS:-4}
PORT=${PORT:-18680}        # OLD on PORT, NEW on PORT+1, the floor on PORT+2
PROFILE=${PROFILE:-production}

export SCRIPTS="$PWD/scripts/load"
. "$SCRIPTS/lib.sh"
ensure_tools
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 2; }; done
# FLOOR=path measures another build of the floor (scripts/pgo.sh floor builds a profile-guided one).
if [ -z "${FLOOR:-}" ]; then
  cargo build --profile "$PROFILE" --locked --quiet --manifest-path scripts/load/floor/Cargo.toml
fi
floor_bin=${FLOOR:-scripts/load/floor/target/$PROFILE/trustdesk-load-floor}

make_workdir
export TOKENS_FILE="$work/tokens" TOKENS
export TRUSTDESK_DATABASE_URL="sqlite://$work/td.db" TRUSTDESK_KEYS_DIR="$work/keys" \
  TRUSTDESK_ATTACHMENTS_DIR="$work/attachments" TRUSTDESK_PUBLIC_BASE_URL="http://127.0.0.1:$PORT" \
  TRUSTDESK_RATE_LIMITS=off TRUSTDESK_VERIFY_CACHE_ENTRIES="$CACHE" \
  TRUSTDESK_MAX_CONCURRENT_REQUESTS=4096 RUST_LOG=warn
old_url="http://127.0.0.1:$PORT" new_url="http://127.0.0.1:$((PORT + 1))"
floor_url="http://127.0.0.1:$((PORT + 2))"

"$NEW" migrate >/dev/null
ADMIN=$("$NEW" staff add --name ab-admin --role admin)
export AGENT_KEY
AGENT_KEY=$("$NEW" staff add --name ab-agent --role agent)
AGENT_ID=$("$NEW" staff list | awk -F'\t' '$3=="ab-agent" || $2=="ab-agent" {print $1; exit}')

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
# NEW first: it creates the keys, which OLD then loads (builds before bb277ca could each generate
# a different first key when started together on an empty keys folder).
TRUSTDESK_BIND="127.0.0.1:$((PORT + 1))" "$NEW" serve 2>"$work/new.log" &
new=$!
pids+=("$new")
wait_ready "$new_url"
TRUSTDESK_BIND="127.0.0.1:$PORT" "$OLD" serve 2>"$work/old.log" &
old=$!
pids+=("$old")
"$floor_bin" "127.0.0.1:$((PORT + 2))" &
floor=$!
pids+=("$floor")
wait_ready "$old_url"
wait_ready "$floor_url"
register_channel "$new_url"
issue_tokens "$new_url"
# Both instances learn the sessions from the database (the other one issued them).
sleep 3

# Verdicts other than genuine since the start, for the instance at $1.
not_genuine() {
  curl -s "$1/metrics" | awk '/^trustdesk_verdicts_total/ && !/verdict="genuine"/ {s += $2} END {print s + 0}'
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }

echo
echo "| round | old µs/req | new µs/req | floor µs/req | new ÷ old | old ÷ floor | new ÷ floor |"
echo "|---|---:|---:|---:|---:|---:|---:|"
r_no=() r_of=() r_nf=()
for r in $(seq "$ROUNDS"); do
  server=$old target=$old_url run_wrk "old_$r" distinct.lua MODE=api
  server=$new target=$new_url run_wrk "new_$r" distinct.lua MODE=api
  server=$floor target=$floor_url run_wrk "floor_$r" distinct.lua MODE=api
  o=${CPU[old_$r]} n=${CPU[new_$r]} f=${CPU[floor_$r]}
  r_no+=("$(ratio "$n" "$o")") r_of+=("$(ratio "$o" "$f")") r_nf+=("$(ratio "$n" "$f")")
  echo "| $r | $o | $n | $f | ${r_no[-1]} | ${r_of[-1]} | ${r_nf[-1]} |"
done
server=""
echo
echo "Medians: new ÷ old $(printf '%s\n' "${r_no[@]}" | median), old ÷ floor $(printf '%s\n' "${r_of[@]}" | median), new ÷ floor $(printf '%s\n' "${r_nf[@]}" | median)."
for u in "$old_url" "$new_url"; do
  bad=$(not_genuine "$u")
  if [ "$bad" != 0 ]; then
    echo "$u answered $bad verdicts other than genuine: the figures above measure the wrong path" >&2
    exit 1
  fi
done

if [ "${CALLGRIND:-0}" = 1 ]; then
  command -v valgrind >/dev/null || { echo "CALLGRIND=1 needs valgrind" >&2; exit 1; }
  cg_port=$((PORT + 3))
  echo
  echo "Instructions per request under callgrind (wrk -t1 -c2, ${CG_DURATION:-15} s; SHA-256 runs in"
  echo "software there, as valgrind lacks the SHA extensions):"
  echo
  echo "| binary | whole process | tokio task polls | handler |"
  echo "|---|---:|---:|---:|"
  for which in old new; do
    bin=$OLD
    [ "$which" = new ] && bin=$NEW
    out="$work/callgrind.$which"
    TRUSTDESK_BIND="127.0.0.1:$cg_port" valgrind --tool=callgrind --callgrind-out-file="$out" \
      "$bin" serve 2>"$work/cg.$which.log" &
    cg=$!
    pids+=("$cg")
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$cg_port/healthz" >/dev/null && break; sleep 0.2; done
    n=$(env MODE=api wrk -t1 -c2 -d"${CG_DURATION:-15}s" -s "$SCRIPTS/distinct.lua" "http://127.0.0.1:$cg_port" |
      sed -nE 's/.*requests=([0-9]+).*/\1/p')
    kill -INT "$cg"
    wait "$cg" 2>/dev/null || true
    callgrind_annotate --inclusive=yes --threshold=100 "$out" 2>/dev/null | awk -v n="$n" -v w="$which" '
      function k(s) { gsub(",", "", s); return sprintf("%.1fk", s / n / 1000) }
      /PROGRAM TOTALS/ { total = k($1) }
      /tokio::runtime::task::raw::poll \[/ && !poll { poll = k($1) }
      /Handler<\(M,T1,T2,T3\),S>>::call::\{\{closure\}\} \[/ && !handler { handler = k($1) }
      END { printf "| %s | %s | %s | %s |\n", w, total, poll, handler }'
  done
fi
