#!/usr/bin/env bash
# Create .venv on Python 3.10 and install everything in ONE resolver call, pinned by the lock file.
# Idempotent: does nothing when the venv already matches the requirement files.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
REQ=requirements/requirements.in
LOCK=requirements/constraints.txt
STAMP="$VENV/.installed"

find_python() {
  local candidates=()
  [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
  command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
  if command -v pyenv >/dev/null 2>&1; then
    for p in "$(pyenv root)"/versions/3.10.*/bin/python3.10; do [ -x "$p" ] && candidates+=("$p"); done
  fi
  for p in "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    [ -x "$p" ] && candidates+=("$p")
  done
  for p in "${candidates[@]}"; do
    if "$p" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

want_hash=$(cat "$REQ" "$LOCK" | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_hash" ]; then
  echo "bootstrap: .venv is up to date."
  touch "$STAMP"
  exit 0
fi

if ! [ -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)'; then
  if ! PY=$(find_python); then
    cat >&2 <<'MSG'
bootstrap: Python 3.10 was not found.
  Rasa 3.6 needs Python >=3.8,<3.11. Install 3.10 (for example `pyenv install 3.10.13`, or your
  distribution's python3.10 with its venv module) and run this again, or point PYTHON=/path/to/python3.10.
MSG
    exit 1
  fi
  echo "bootstrap: creating $VENV with $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi

echo "bootstrap: installing dependencies (one resolver call, pinned by $LOCK; first time takes a few minutes)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.2"
"$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$REQ" -c "$LOCK"
echo "$want_hash" > "$STAMP"
echo "bootstrap: done in ${SECONDS} s."
