"""Cloud file systems: no plain file call outside tfx_dcgan/fileio.py and its allowlist, and the
fileio layer's atomic writes and marker-last publishing on local disk and on ram://."""

from __future__ import annotations

import ast
import os

import tfx_dcgan  # noqa: F401
from tfx_dcgan import fileio

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT

# Calls that touch files through the standard library (tf.io.gfile understands gs://, these don't).
_OS_CALLS = {
    "makedirs", "mkdir", "rmdir", "remove", "unlink", "rename", "replace", "listdir", "scandir",
    "stat", "lstat", "walk", "fdopen", "open", "chmod", "utime", "truncate",
}  # fmt: skip
_OS_PATH_CALLS = {"exists", "isdir", "isfile", "islink", "getsize", "getmtime", "lexists"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_plain_file_call(name: str) -> bool:
    parts = name.split(".")
    if name == "open" or name == "io.open":
        return True
    if parts[0] in ("shutil", "tempfile"):
        return True
    if len(parts) == 2 and parts[0] == "os" and parts[1] in _OS_CALLS:
        return True
    return len(parts) == 3 and parts[:2] == ["os", "path"] and parts[2] in _OS_PATH_CALLS


def plain_file_calls(path: str, relative: str) -> list[str]:
    """'file:line function call' for each plain file call not in fileio.LOCAL_FAST_PATHS."""
    with open(path) as stream:
        tree = ast.parse(stream.read())
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
            if isinstance(child, ast.Call):
                # `(os.path.isdir if local else tf.io.gfile.isdir)(path)` calls either branch.
                targets = (
                    [child.func.body, child.func.orelse]
                    if isinstance(child.func, ast.IfExp)
                    else [child.func]
                )
                for called in map(_dotted, targets):
                    allowed = (relative, name) in fileio.LOCAL_FAST_PATHS
                    if _is_plain_file_call(called) and not allowed:
                        found.append(f"{relative}:{child.lineno} {name}() {called}")
            visit(child, name)

    visit(tree, "<module>")
    return found


def test_the_package_makes_no_plain_file_call_outside_the_allowlist():
    found = []
    package = os.path.join(REPO_ROOT, "tfx_dcgan")
    for directory, _, files in os.walk(package):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, REPO_ROOT)
                if relative != "tfx_dcgan/fileio.py":
                    found += plain_file_calls(path, relative)
    assert found == []


def test_the_scan_finds_a_plain_call(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "import os\n\ndef f(p):\n    os.makedirs(p)\n    (os.path.isdir if p else g)(p)\n"
        "    return open(p)\n"
    )
    assert plain_file_calls(str(source), "x.py") == [
        "x.py:4 f() os.makedirs",
        "x.py:5 f() os.path.isdir",
        "x.py:6 f() open",
    ]


def test_every_allowlisted_function_exists():
    for relative, function in fileio.LOCAL_FAST_PATHS:
        with open(os.path.join(REPO_ROOT, relative)) as stream:
            tree = ast.parse(stream.read())
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert function in names, (relative, function)


@pytest.mark.parametrize("root", ["local", "ram"])
def test_write_and_publish(root, tmp_path):
    base = str(tmp_path) if root == "local" else f"ram://fileio-{os.getpid()}"
    path = fileio.join(base, "a", "config.json")
    fileio.write_atomically(path, '{"x": 1}')
    fileio.write_atomically(path, '{"x": 2}')
    assert fileio.read_text(path) == '{"x": 2}'
    assert fileio.listdir(fileio.join(base, "a")) == ["config.json"]  # no temporary left
    fileio.append_text(fileio.join(base, "log"), "one\n")
    fileio.append_text(fileio.join(base, "log"), "two\n")
    assert fileio.read_text(fileio.join(base, "log")) == "one\ntwo\n"
    staged = fileio.join(base, "staged")
    fileio.write_atomically(fileio.join(staged, "variables", "v"), b"weights")
    fileio.write_atomically(fileio.join(staged, "saved_model.pb"), b"graph")
    final = fileio.join(base, "models", "1")
    assert fileio.publish_directory(staged, final, marker="saved_model.pb")
    assert fileio.read_bytes(fileio.join(final, "variables", "v")) == b"weights"
    assert fileio.read_bytes(fileio.join(final, "saved_model.pb")) == b"graph"
    assert not fileio.exists(staged)
    assert not fileio.publish_directory(final, final, marker="saved_model.pb")


def test_copy_tree_copies_the_marker_last(tmp_path, monkeypatch):
    source = tmp_path / "src"
    (source / "variables").mkdir(parents=True)
    for name in ("saved_model.pb", "fingerprint.pb", "variables/data"):
        (source / name).write_text(name)
    order = []
    original = tf.io.gfile.copy
    monkeypatch.setattr(
        tf.io.gfile,
        "copy",
        lambda a, b, overwrite=False: (order.append(a), original(a, b, overwrite)),
    )
    fileio.copy_tree(str(source), str(tmp_path / "dst"), last="saved_model.pb")
    assert order[-1].endswith("saved_model.pb") and len(order) == 3


def _ram_listing(root: str) -> set[str]:
    listed = set()
    for directory, _, files in tf.io.gfile.walk(root):
        for name in files:
            listed.add(os.path.relpath(os.path.join(directory, name), root))
    return listed


def test_train_and_both_exports_on_ram(tmp_path, monkeypatch):
    """A run whose workdir and exports live on ram:// (an in-process stand-in for gs://) writes
    every output there and nothing to the working directory."""
    from tfx_dcgan import export, train_lib
    from tfx_dcgan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig

    from conftest import write_image_folder

    data_dir = str(tmp_path / "images")
    write_image_folder(data_dir, {"a": 6, "b": 6}, size=16)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    root = f"ram://train-{os.getpid()}"
    config = ExperimentConfig(
        data=DataConfig(data_dir=data_dir),
        model=ModelConfig(image_size=16, ngf=4, ndf=4, kernel_size=3, z_dim=8),
        train=TrainConfig(
            batch_size=4, steps=3, log_every=1, checkpoint_every=2, sample_every=2, sample_grid=4
        ),
    )
    result = train_lib.train(config, f"{root}/run")
    assert result.step == 3
    listed = _ram_listing(f"{root}/run")
    assert {"config.json", "train_log.jsonl", "samples/final.png"} <= listed
    assert any(p.startswith("samples/step_") for p in listed)
    assert any(p.startswith("checkpoints/ckpt-3") for p in listed)
    assert any(p.startswith("tensorboard/") for p in listed)
    assert len(fileio.read_text(f"{root}/run/train_log.jsonl").splitlines()) == 3
    generator, discriminator, step = train_lib.restore_models(f"{root}/run")
    assert step == 3

    export.export_generator(generator, config.model, f"{root}/generator", step=step)
    export.export_discriminator_features(discriminator, config.model, f"{root}/features", step=step)
    for name in ("generator", "features"):
        assert "saved_model.pb" in _ram_listing(f"{root}/{name}")
        assert not [n for n in fileio.listdir(root) if n.startswith(".")], "temporary left"
    images = tf.saved_model.load(f"{root}/generator").signatures["generate"](
        seed=tf.constant(1, tf.int64), count=tf.constant(2, tf.int64)
    )["images"]
    assert images.shape == (2, 16, 16, 3) and images.dtype == tf.uint8
    encoded = tf.io.encode_png(images[0])
    features = tf.saved_model.load(f"{root}/features").signatures["serving_default"](
        image_bytes=tf.reshape(encoded, [1])
    )["features"]
    assert features.shape[0] == 1 and np.all(np.isfinite(features.numpy()))
    assert os.listdir(cwd) == []
