#!/usr/bin/env bash
# Runs schemathesis against the OpenAPI document of a live Confab server: every response must match
# the document (status code, content type, headers, schema), and the server must not answer 5xx.
#
# Usage: CONFAB_BIN=/path/to/confab tests/openapi/run.sh [extra schemathesis arguments]
# Installs schemathesis (PyPI) into $HOME/.cache/confab-schemathesis when missing; starts the server on
# a free port with a temporary data dir; seeds an account and a room with messages (seed.py); runs
# schemathesis with that account's session as `Authorization: Bearer` (authenticated operations get a
# session), then signing out and ending sessions with a second account's (they end the session they
# use). Cases per operation are in schemathesis.toml (OPENAPI_MAX_EXAMPLES overrides them); both runs
# together have a time budget of OPENAPI_TIMEOUT seconds (default 100: schemathesis stops generating
# when it is spent, having tested what it reached). Exits non-zero if schemathesis finds a mismatch or
# the server dies.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${CONFAB_BIN:-}" || ! -x "${CONFAB_BIN}" ]]; then
  echo "run.sh: set CONFAB_BIN to the confab server binary" >&2
  exit 2
fi

# --- install (only when missing or when requirements.txt changed) -----------------------------------
venv="${SCHEMATHESIS_VENV:-$HOME/.cache/confab-schemathesis}"
stamp="$venv/.confab-requirements"
if [[ ! -x "$venv/bin/schemathesis" ]] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "== installing schemathesis into $venv"
  python3 -m venv "$venv" || exit 2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" || exit 2
  cp "$here/requirements.txt" "$stamp"
fi

# --- server --------------------------------------------------------------------------------------
work="$(mktemp -d)"
log="$work/server.log"
# Unlimited guests: schemathesis creates hundreds of sessions from 127.0.0.1.
"$CONFAB_BIN" --bind 127.0.0.1:0 --data-dir "$work/data" --guests-per-minute-per-address 0 >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null
  wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
addr=""
for _ in $(seq 100); do
  addr="$(sed -n 's/^listening on //p' "$log" | head -n 1)"
  [[ -n "$addr" ]] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$addr" ]]; then
  echo "run.sh: the server did not start:" >&2
  cat "$log" >&2
  exit 1
fi

room="openapi-seed"
token="$("$venv/bin/python" "$here/seed.py" "$addr" "$room")" || { echo "run.sh: seeding failed" >&2; exit 1; }

# --- run -----------------------------------------------------------------------------------------
extra=("$@")
echo "== schemathesis against http://$addr/api/openapi.json"
status=0
# From the temporary dir: schemathesis keeps a cache of failures in ./.schemathesis, which does not belong
# in the work tree.
cd "$work" || exit 1
# st SECONDS ARGS...: one schemathesis run with a time budget (schemathesis stops generating when it is
# spent; `timeout` ends it 30 s later if it does not).
st() {
  local budget=$1
  shift
  timeout "$((budget + 30))" "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run \
    --max-time "$budget" \
    "http://$addr/api/openapi.json" \
    --checks all \
    ${OPENAPI_MAX_EXAMPLES:+--max-examples "$OPENAPI_MAX_EXAMPLES"} \
    --request-timeout 10 \
    --seed "${OPENAPI_SEED:-$RANDOM}" \
    --report junit --report-dir "$work/report" \
    --no-color \
    "$@"
}
# Signing out and ending sessions (stateful runs find the session's own id in GET /api/account/sessions)
# end the seeded session, so they run last, alone, with a session of their own; everything else runs
# with the seeded account's session.
ending=(/api/auth/logout "/api/account/sessions/{id}")
budget="${OPENAPI_TIMEOUT:-100}"
main_budget=$((budget * 4 / 5))
st "$main_budget" --header "Authorization: Bearer $token" --exclude-path "${ending[0]}" --exclude-path "${ending[1]}" "${extra[@]}" || status=$?
if [[ $status -eq 0 ]]; then
  last="$("$venv/bin/python" "$here/seed.py" "$addr" "$room-2" --username schemathesis2)" || { echo "run.sh: seeding failed" >&2; exit 1; }
  st "$((budget - main_budget))" --header "Authorization: Bearer $last" --include-path "${ending[0]}" --include-path "${ending[1]}" "${extra[@]}" || status=$?
fi
if [[ $status -eq 124 ]]; then
  echo "run.sh: schemathesis did not stop within its time budget (${OPENAPI_TIMEOUT:-100} s + 30 s)" >&2
fi
if ! kill -0 "$server" 2>/dev/null; then
  echo "run.sh: the server died during the run:" >&2
  tail -n 50 "$log" >&2
  status=1
fi
if [[ $status -ne 0 ]]; then
  echo "openapi (schemathesis): FAILED" >&2
else
  echo "openapi (schemathesis): every response matched the document"
fi
exit $status
