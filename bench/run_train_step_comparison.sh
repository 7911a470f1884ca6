#!/usr/bin/env bash
# Times the DCGAN training step in TensorFlow (this project) and PyTorch (the peer), alternately,
# so that both see the same machine load. Each run is logged with the time of day and `uptime`.
#
# Usage (from anywhere):
#   bench/run_train_step_comparison.sh [ROUNDS] [STEPS] [WARMUP] [SIZES] [KERNEL]
# Defaults: 2 rounds, 8 timed steps, 2 warm-up steps, sizes "32 64", kernel 5, batch 128.
# Environment: TF_PY (default <repo>/.venv/bin/python), TORCH_PY (default /tmp/torchref/bin/python),
#   TORCH_SCRIPT (default <repo>/../shared/bench/torch_dcgan_step.py), LOG (default
#   /tmp/train_step_comparison.log). Widths as in ../shared/STACK.md: 32x32 ngf=ndf=128,
#   64x64 ngf=ndf=64. XLA is left out (slow on CPU): run bench/train_step.py --modes xla for it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-2}"
steps="${2:-8}"
warmup="${3:-2}"
sizes="${4:-32 64}"
kernel="${5:-5}"
tf_py="${TF_PY:-$repo/.venv/bin/python}"
torch_py="${TORCH_PY:-/tmp/torchref/bin/python}"
torch_script="${TORCH_SCRIPT:-$repo/../shared/bench/torch_dcgan_step.py}"
log="${LOG:-/tmp/train_step_comparison.log}"

for path in "$tf_py" "$torch_py" "$torch_script"; do
  if [[ ! -e "$path" ]]; then
    echo "error: $path not found (see bench/README.md for the set-up)" >&2
    exit 2
  fi
done

width() { if [[ "$1" == 32 ]]; then echo 128; else echo 64; fi; }

run() {
  echo "# $(date +%T) load: $(cut -d' ' -f1-3 /proc/loadavg) :: $*" | tee -a "$log"
  "$@" 2>/dev/null | grep '^{' | tee -a "$log"
}

for round in $(seq 1 "$rounds"); do
  for size in $sizes; do
    w="$(width "$size")"
    run "$tf_py" "$repo/bench/train_step.py" --sizes "$size" --modes graph --kernel "$kernel" \
      --batch 128 --steps "$steps" --warmup "$warmup"
    run "$torch_py" "$torch_script" --size "$size" --ngf "$w" --ndf "$w" --kernel "$kernel" \
      --batch 128 --steps "$steps" --warmup "$warmup"
  done
done
echo "# log: $log"
