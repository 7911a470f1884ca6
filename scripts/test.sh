#!/usr/bin/env bash
# Command 2 of the README: creates the pinned environment if missing, lints, runs the whole test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not slow"` for the quick subset).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py="$(bash scripts/ensure_env.sh | tail -n 1)"
# The reference FID network's weights (fetched by name and sha256 once, then cached).
bash scripts/ensure_fid_weights.sh >/dev/null
# Debian's Chromium renders the run report in the tests (installed once, from the Debian registry).
bash scripts/ensure_chromium.sh >/dev/null
echo "[test] ruff check + format check"
"$py" -m ruff check .
"$py" -m ruff format --check .
echo "[test] pytest $*"
exec "$py" -m pytest -q --durations=15 "$@"
