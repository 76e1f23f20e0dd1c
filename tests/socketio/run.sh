#!/usr/bin/env bash
# Socket.IO compatibility suites: python-socketio (pytest) and Node socket.io-client (node --test)
# against the real Confab server. Usage: CONFAB_BIN=/path/to/confab tests/socketio/run.sh
# Extra arguments go to pytest (e.g. -k history). Exits non-zero if either suite fails.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${CONFAB_BIN:-}" ]]; then
  echo "run.sh: set CONFAB_BIN to the confab server binary" >&2
  exit 2
fi
CONFAB_BIN="$(cd "$(dirname "$CONFAB_BIN")" && pwd)/$(basename "$CONFAB_BIN")"
export CONFAB_BIN
if [[ ! -x "$CONFAB_BIN" ]]; then
  echo "run.sh: CONFAB_BIN=$CONFAB_BIN is not an executable" >&2
  exit 2
fi

# --- install ---------------------------------------------------------------------
set -e
py="$here/python"
if [[ ! -x "$py/.venv/bin/python" ]]; then
  python3 -m venv "$py/.venv"
fi
"$py/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$py/requirements.txt"
(cd "$here/node" && npm install --no-audit --no-fund --loglevel=error)
set +e

# --- run -------------------------------------------------------------------------
status=0
echo "== python-socketio suite"
(cd "$py" && .venv/bin/python -m pytest "$@") || status=1
echo "== node socket.io-client suite"
(cd "$here/node" && npm test --silent) || status=1

if [[ $status -ne 0 ]]; then
  echo "socket.io compatibility: FAILED" >&2
else
  echo "socket.io compatibility: all suites passed"
fi
exit $status
