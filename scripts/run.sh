#!/usr/bin/env bash
# Command 1 of the README: creates the pinned environment if missing, then runs the main job,
# the TFX pipeline, on the shipped CIFAR-10 sample (offline). Extra arguments go to the runner
# (`bash scripts/run.sh --help` lists them; e.g. --data_dir=/path/to/images --steps=5000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py="$(bash scripts/ensure_env.sh | tail -n 1)"
# The evaluator's FID network weights (fetched by name and sha256 once, then cached).
bash scripts/ensure_fid_weights.sh >/dev/null
exec "$py" -m pipelines.local_runner "$@"
