#!/usr/bin/env bash
# schemathesis against the served /openapi.json, longer than the test suite's short run
# (tests/api/schema.rs): every operation, as admin, security, agent and a receipt holder, for
# MAX_TIME seconds each; checks: no 5xx, every status documented, every answer matching its schema
# and content type (problem+json for every error).
#
#   scripts/fuzz/schemathesis.sh                 # 120 s per role, SQLite
#   MAX_TIME=600 scripts/fuzz/schemathesis.sh
#   TRUSTDESK_DATABASE_URL=postgres://... scripts/fuzz/schemathesis.sh
#
# Needs python3 (a virtualenv with the pinned schemathesis is made under target/). Uses its own
# temporary directory; never touches ./data or ./keys.
set -euo pipefail
cd "$(dirname "$0")/../.."
MAX_TIME=${MAX_TIME:-120}
PORT=${PORT:-18520}
VERSION=$(sed -nE 's/.*"(schemathesis==[0-9.]+)".*/\1/p' tests/api/schema.rs)

venv=target/fuzz-venv
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/pip" freeze | grep -qx "$VERSION"; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$VERSION"
fi
export SCRIPTS="$PWD/scripts/load"
. "$SCRIPTS/lib.sh"
cargo build --release --locked --quiet

make_workdir
export TRUSTDESK_DATABASE_URL=${TRUSTDESK_DATABASE_URL:-sqlite://$work/td.db}
export TRUSTDESK_KEYS_DIR="$work/keys" TRUSTDESK_ATTACHMENTS_DIR="$work/attachments" \
  TRUSTDESK_BIND="127.0.0.1:$PORT" TRUSTDESK_PUBLIC_BASE_URL="http://127.0.0.1:$PORT" \
  TRUSTDESK_RATE_LIMITS=off RUST_LOG=warn
td=./target/release/trustdesk
base="http://127.0.0.1:$PORT"
$td migrate >/dev/null
ADMIN=$($td staff add --name fuzz-admin --role admin)
SEC=$($td staff add --name fuzz-sec --role security)
AGENT=$($td staff add --name fuzz-agent --role agent)
AGENT_ID=$($td staff list | awk -F'\t' '$3=="fuzz-agent" {print $1; exit}')
$td serve 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

# Real data behind the list and detail endpoints.
curl -sf -X POST "$base/v1/channels" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
  -d "{\"kind\":\"telegram\",\"value\":\"@acme_support\",\"agent_id\":\"$AGENT_ID\"}" >/dev/null
curl -sf -X POST "$base/v1/sessions" -H "Authorization: Bearer $AGENT" -H 'content-type: application/json' \
  -d '{"channel":{"kind":"telegram","handle":"@acme_support"}}' >/dev/null
RECEIPT=$(curl -sf -X POST "$base/v1/reports" \
  -F 'report={"category":"impersonation","description":"fake support asked for my seed"};type=application/json' \
  | sed -E 's/.*"receipt":"([^"]+)".*/\1/')

status=0
venv=$PWD/$venv
cd "$work" # schemathesis keeps its example database in the working directory
for who in ADMIN SEC AGENT RECEIPT; do
  echo "== schemathesis as $who for ${MAX_TIME}s"
  "$venv/bin/schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-time "$MAX_TIME" --workers 2 --request-timeout 10 \
    --header "Authorization: Bearer ${!who}" || status=1
done
if grep -q 'ERROR' "$work/server.log"; then
  echo "!! the server logged errors:" >&2
  grep 'ERROR' "$work/server.log" | head -20 >&2
  status=1
fi
exit $status
