# Sourced by scripts/run and scripts/test: make sure .venv exists and holds the pinned deps.
# The install is skipped when the requirements files have not changed since the last one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GROVE_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3.11}"

ensure_venv() {
  local requirements="$1"
  if ! command -v "$PYTHON_BIN" >/dev/null 2>&1; then
    echo "grove: $PYTHON_BIN not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "grove: creating virtualenv in $VENV" >&2
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  local stamp="$VENV/.grove-installed-$(basename "$requirements")"
  local digest
  digest="$(cat "$ROOT"/requirements*.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "grove: installing pinned dependencies from $(basename "$requirements")" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$digest" > "$stamp"
  fi
}
