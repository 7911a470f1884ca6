#!/usr/bin/env bash
# Creates the pinned Python 3.10 environment in .venv if it is missing or stale; idempotent.
# Source it (". scripts/ensure_env.sh") or run it; it prints the interpreter path on its last line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
lock="$root/requirements.lock"
stamp="$venv/.lock.sha256"
want="$(sha256sum "$lock" | cut -d' ' -f1)"

find_python310() {
  if [ -n "${TFX_DCGAN_PYTHON:-}" ]; then echo "$TFX_DCGAN_PYTHON"; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -V -r); do
      p="$(PYENV_VERSION="$v" pyenv which python3.10 2>/dev/null || true)"
      [ -x "$p" ] && { echo "$p"; return; }
    done
  fi
  for p in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$p"; return
    fi
  done
  echo "error: Python 3.10 not found (TFX 1.16 needs Python < 3.11). Install it with pyenv, or set TFX_DCGAN_PYTHON=/path/to/python3.10" >&2
  exit 1
}

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi

py="$(find_python310)"
echo "[env] creating $venv from $lock with $py (first time: ~2 minutes, ~3 GB)" >&2
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
# The installers' own output (pip warns about every missing --find-links folder a machine's
# PIP_FIND_LINKS names) goes to a log, shown when a step fails, so the main job's console stays short.
log="$venv/install.log"
: > "$log"
logged() {
  if ! "$@" >>"$log" 2>&1; then
    echo "error: '$*' failed; the last 40 lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}
# The venv gets pip (TFX's Transform and Trainer call `python -m pip install --target`), and uv
# installs the hashed lock fast.
logged "$venv/bin/python" -m pip install -q --disable-pip-version-check "uv==0.13.9"
logged "$venv/bin/uv" pip install -q --python "$venv/bin/python" --require-hashes -r "$lock"
logged "$venv/bin/uv" pip install -q --python "$venv/bin/python" --no-deps -e "$root"
echo "$want" > "$stamp"
echo "$venv/bin/python"
