"""Config refusals: every numeric flag out of range names its flag; a workdir of another run is
refused naming each differing field, and nothing in it is touched."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import tfx_dcgan  # noqa: F401
from tfx_dcgan.cli.command import flag_error_message
from tfx_dcgan.config import (
    ConfigError,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    PipelineConfig,
    TrainConfig,
)

import pytest

# One out-of-range value for every numeric field; a new numeric field must be added here.
BAD_VALUES = {
    DataConfig: {"parallel_reads": -1, "max_image_pixels": -1},
    ModelConfig: {
        "image_size": 48,
        "channels": 2,
        "z_dim": 0,
        "ngf": 0,
        "ndf": 0,
        "kernel_size": 0,
    },
    TrainConfig: {
        "batch_size": 0,
        "steps": 0,
        "learning_rate": 0.0,
        "beta1": 1.0,
        "cpu_replicas": -1,
        "log_every": 0,
        "sample_every": -1,
        "checkpoint_every": 0,
        "keep_checkpoints": 0,
        "sample_grid": 0,
    },
    PipelineConfig: {
        "beam_workers": -1,
        "probe_threshold": 1.5,
        "probe_max_train_examples": -1,
        "probe_max_test_examples": -1,
        "fid_count": -1,
        "fid_ceiling": -1.0,
        "fid_batch_size": 0,
        "max_logged_skipped": -1,
    },
}
ANY_VALUE_IS_FINE = {"seed", "shuffle_seed"}
SECTIONS = {
    DataConfig: "data",
    ModelConfig: "model",
    TrainConfig: "train",
    PipelineConfig: "pipeline",
}


def _numeric_fields(cls) -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(cls)
        if f.type in ("int", "float", int, float) and f.name not in ANY_VALUE_IS_FINE
    }


@pytest.mark.parametrize("cls", list(BAD_VALUES), ids=lambda c: c.__name__)
def test_every_numeric_field_has_a_checked_range(cls):
    assert _numeric_fields(cls) == set(BAD_VALUES[cls])


def _validate(cls, **changes):
    if cls is PipelineConfig:
        base = PipelineConfig(pipeline_root="/r", push_base="/s", data_dir="/d")
        return dataclasses.replace(base, **changes).validate(check_local_paths=False)
    return dataclasses.replace(cls(), **changes).validate()


@pytest.mark.parametrize(
    "cls, name, value",
    [(cls, name, value) for cls, values in BAD_VALUES.items() for name, value in values.items()],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_out_of_range_value_is_refused_naming_its_flag(cls, name, value):
    with pytest.raises(ConfigError) as refused:
        _validate(cls, **{name: value})
    assert f"{SECTIONS[cls]}.{name}" in str(refused.value)
    assert flag_error_message(refused.value).startswith(f"--{name} ")


def _snapshot(folder) -> dict[str, str]:
    return {
        os.path.relpath(os.path.join(d, n), folder): hashlib.sha256(
            open(os.path.join(d, n), "rb").read()
        ).hexdigest()
        for d, _, names in os.walk(folder)
        for n in names
    }


def test_a_workdir_of_another_run_is_refused_naming_each_field(tmp_path):
    from tfx_dcgan import train_lib

    from conftest import train_tiny_gan, write_image_folder

    data = tmp_path / "images"
    write_image_folder(str(data), {"a": 4, "b": 4}, size=16)
    workdir = tmp_path / "run"
    train_tiny_gan(str(data), str(workdir), steps=1)
    before = _snapshot(workdir)
    stored = ExperimentConfig.from_dict(__import__("json").load(open(workdir / "config.json")))
    other = dataclasses.replace(
        stored,
        model=dataclasses.replace(stored.model, noise="normal", sync_batch_norm=True, ndf=8),
        train=dataclasses.replace(stored.train, steps=5),
    )
    with pytest.raises(ConfigError) as refused:
        train_lib.train(other, str(workdir))
    message = str(refused.value)
    assert "holds a run with a different configuration" in message
    for field in ("model.noise: stored 'uniform', requested 'normal'",
                  "model.sync_batch_norm: stored False, requested True",
                  "model.ndf: stored 4, requested 8"):  # fmt: skip
        assert field in message
    assert _snapshot(workdir) == before  # checkpoints, logs and config untouched
