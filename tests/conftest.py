"""Shared test set-up: environment before TensorFlow, tiny configs, image-folder fixtures."""

from __future__ import annotations

import os
import subprocess
import sys

import tfx_dcgan  # noqa: F401  (TF_USE_LEGACY_KERAS / oneDNN before TensorFlow loads)

import numpy as np
import pytest
from PIL import Image

# The pipeline's nodes and edges (node -> the nodes it depends on), written out for the engine
# tests (Airflow's DAG, the Kubeflow spec).
PIPELINE_EDGES = {
    "ImageExampleGen": [],
    "ImportSchemaGen": [],
    "StatisticsGen": ["ImageExampleGen", "ImportSchemaGen"],
    "SchemaGen": ["StatisticsGen"],
    "ExampleValidator": ["ImportSchemaGen", "StatisticsGen"],
    "SchemaGate": ["ExampleValidator", "ImageExampleGen", "ImportSchemaGen", "StatisticsGen"],
    "Transform": ["ImageExampleGen", "SchemaGate"],
    "Trainer": ["SchemaGate", "Transform"],
    "FeatureProbeEvaluator": ["ImageExampleGen", "Trainer"],
    "VersionedPusher": ["FeatureProbeEvaluator", "Trainer"],
}

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DATA = os.path.join(REPO_ROOT, "data", "cifar10_sample")


def write_image_folder(
    root: str,
    classes: dict[str, int],
    size: int = 20,
    mode: str = "RGB",
    formats: tuple[str, ...] = ("png", "jpg"),
    seed: int = 0,
) -> list[str]:
    """Writes `classes[name]` random images per class sub-folder ('' = flat); returns the paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for name, count in classes.items():
        folder = os.path.join(root, name) if name else root
        os.makedirs(folder, exist_ok=True)
        for index in range(count):
            channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
            pixels = rng.integers(0, 256, size=(size, size + index % 3, channels), dtype=np.uint8)
            image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)
            extension = formats[index % len(formats)]
            if extension == "jpg" and mode == "RGBA":
                image = image.convert("RGB")
            path = os.path.join(folder, f"img_{index:03d}.{extension}")
            image.save(path)
            paths.append(path)
    return paths


def write_corrupt_files(folder: str) -> list[str]:
    """A zero-byte .png, a truncated .jpg and a text file named .jpg in `folder`."""
    os.makedirs(folder, exist_ok=True)
    empty = os.path.join(folder, "empty.png")
    open(empty, "wb").close()
    truncated = os.path.join(folder, "truncated.jpg")
    pixels = np.random.default_rng(1).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(truncated, quality=90)
    with open(truncated, "rb") as stream:
        data = stream.read()
    with open(truncated, "wb") as stream:
        stream.write(data[: len(data) // 3])
    text = os.path.join(folder, "notes.jpg")
    with open(text, "w") as stream:
        stream.write("this is not an image\n")
    return [empty, truncated, text]


def train_tiny_gan(data_dir: str, workdir: str, *, ndf: int = 4, steps: int = 2) -> None:
    """A 16x16 DCGAN trained for `steps` steps of batch 8 in this process (CLI tests' model)."""
    from tfx_dcgan import train_lib
    from tfx_dcgan.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig

    train_lib.train(
        ExperimentConfig(
            data=DataConfig(data_dir=data_dir),
            model=ModelConfig(image_size=16, ngf=4, ndf=ndf, kernel_size=3),
            train=TrainConfig(batch_size=8, steps=steps, sample_every=0, checkpoint_every=steps),
        ),
        workdir,
    )


def run_python(args: list[str], timeout: float = 300, env: dict[str, str] | None = None, **kwargs):
    """Runs the venv's Python in a fresh process from the repo root."""
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture
def image_folder(tmp_path):
    """Two classes of 12 small RGB images each, plus three unusable files in one class."""
    root = str(tmp_path / "images")
    write_image_folder(root, {"cats": 12, "dogs": 12})
    write_corrupt_files(os.path.join(root, "dogs"))
    return root


def pytest_collection_modifyitems(config, items):
    """Drops tf.test.TestCase's inherited `test_session` (a context manager, not a test)."""
    items[:] = [item for item in items if item.name != "test_session"]
