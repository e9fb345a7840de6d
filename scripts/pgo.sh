#!/usr/bin/env bash
# Profile-guided build of the production binary: what a deployment that cares about the cost of a
# verification should run instead of plain `cargo build --profile production`.
#
#   scripts/pgo.sh          # Trustdesk   -> target/pgo/production/trustdesk
#   scripts/pgo.sh floor    # the load tests' bare axum + dalek floor, built the same way
#                           #             -> scripts/load/floor/target/pgo/production/trustdesk-load-floor
#
# Three steps: an instrumented build (`-Cprofile-generate`, in target/pgo-gen), a training run of
# that build on loopback that writes its profile when it shuts down, then the real build
# (`-Cprofile-use`, in target/pgo). The profile tells LLVM which code is hot: it inlines the
# Ed25519 field arithmetic into the scalar multiplication and lays out the HTTP/JSON glue around
# it, which a plain build leaves to guesswork (measured: docs/performance.md). The binary behaves
# exactly as the plain build does; only code layout and inlining differ.
#
# Trustdesk's training covers every kind of request a deployment serves, not only verification,
# so that no path is laid out as cold: /healthz, verification (distinct tokens, links, repeated,
# batches), channel checks, report status and intake with attachments, escalation claims.
#
# Takes about 15 minutes on 2 cores (two whole-program-optimised builds). Needs wrk and python3
# (installed with apt-get when missing, as root) and rustup's llvm-tools component (added when
# missing). Uses its own temporary database and keys; never touches ./data or ./keys.
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT=${1:-trustdesk}
PORT=${PORT:-18580}
DURATION=${DURATION:-5}  # seconds per training scenario (after a 2 s warm-up)
CONNS=8 THREADS=2 TOKENS=${TOKENS:-4000}

export SCRIPTS="$PWD/scripts/load"
. "$SCRIPTS/lib.sh"
ensure_tools

profdata_tool() {
  local tool
  tool="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata"
  if [ ! -x "$tool" ]; then
    rustup component add llvm-tools >&2
  fi
  echo "$tool"
}
PROFDATA=$(profdata_tool)

case "$WHAT" in
  trustdesk) manifest=Cargo.toml bin=trustdesk ;;
  floor) manifest=scripts/load/floor/Cargo.toml bin=trustdesk-load-floor ;;
  *) echo "usage: scripts/pgo.sh [trustdesk|floor]" >&2; exit 2 ;;
esac
root=$PWD
[ "$WHAT" = floor ] && root=$PWD/scripts/load/floor
gen_dir="$root/target/pgo-gen" use_dir="$root/target/pgo"
raw="$gen_dir/profiles" profile="$use_dir/$bin.profdata"

echo "1/3 Instrumented build ($WHAT) ..." >&2
RUSTFLAGS="-Cprofile-generate=$raw" cargo build --profile production --locked --quiet \
  --manifest-path "$manifest" --target-dir "$gen_dir"
# The build scripts were instrumented too and left profiles of their own: start clean.
rm -rf "$raw"
instrumented="$gen_dir/production/$bin"

make_workdir
target="http://127.0.0.1:$PORT"
echo "2/3 Training run ..." >&2
if [ "$WHAT" = floor ]; then
  # The floor verifies its own messages: the token file only sizes the request bodies.
  export TOKENS_FILE="$work/tokens"
  for _ in $(seq 100); do echo "v4.public.$(head -c 300 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"; done >"$TOKENS_FILE"
  "$instrumented" "127.0.0.1:$PORT" &
  server=$!
  for _ in $(seq 600); do curl -sf "$target/healthz" >/dev/null && break; sleep 0.1; done
  run_wrk healthz healthz.lua
  run_wrk verify distinct.lua MODE=api
else
  export TOKENS_FILE="$work/tokens" RECEIPTS_FILE="$work/receipts" TOKENS
  export TRUSTDESK_DATABASE_URL="sqlite://$work/td.db" TRUSTDESK_KEYS_DIR="$work/keys" \
    TRUSTDESK_ATTACHMENTS_DIR="$work/attachments" TRUSTDESK_BIND="127.0.0.1:$PORT" \
    TRUSTDESK_PUBLIC_BASE_URL="$target" TRUSTDESK_RATE_LIMITS=off \
    TRUSTDESK_VERIFY_CACHE_ENTRIES=1000 TRUSTDESK_MAX_CONCURRENT_REQUESTS=4096 RUST_LOG=warn
  td=$instrumented
  $td migrate >/dev/null
  ADMIN=$($td staff add --name pgo-admin --role admin 2>/dev/null)
  export AGENT_KEY SEC_KEY
  AGENT_KEY=$($td staff add --name pgo-agent --role agent 2>/dev/null)
  SEC_KEY=$($td staff add --name pgo-sec --role security 2>/dev/null)
  AGENT_ID=$($td staff list | awk -F'\t' '$3=="pgo-agent" {print $1; exit}')
  $td serve 2>>"$work/server.log" &
  server=$!
  wait_ready "$target"
  register_channel "$target"
  issue_tokens "$target"
  kill "$server"
  wait "$server" 2>/dev/null || true
  python3 "$SCRIPTS/seed.py" "$work/td.db" --agent-id "$AGENT_ID" --reports 2000 --queue 1000 \
    --receipts "$RECEIPTS_FILE" >/dev/null
  $td serve 2>>"$work/server.log" &
  server=$!
  wait_ready "$target"
  run_wrk healthz healthz.lua
  run_wrk verify distinct.lua MODE=api
  run_wrk link distinct.lua MODE=link
  run_wrk repeated repeated.lua
  run_wrk mixed mixed.lua
  run_wrk claim claim.lua
  run_wrk intake intake.lua
  # Batches: a few requests, so that the path is not laid out as never taken.
  batch=$(head -n 64 "$TOKENS_FILE" | python3 -c 'import json,sys; print(json.dumps({"inputs": sys.stdin.read().split()}))')
  for _ in $(seq 200); do
    curl -sf -X POST "$target/v1/verify/batch" -H 'content-type: application/json' -d "$batch" >/dev/null
  done
fi
# A clean shutdown is what writes the profile.
kill -INT "$server"
wait "$server" 2>/dev/null || true
server=""
ls "$raw"/*.profraw >/dev/null

echo "3/3 Optimised build ..." >&2
mkdir -p "$use_dir"
"$PROFDATA" merge -o "$profile" "$raw"
RUSTFLAGS="-Cprofile-use=$profile" cargo build --profile production --locked --quiet \
  --manifest-path "$manifest" --target-dir "$use_dir"
echo "$use_dir/production/$bin"
