"""The Trainer's durable workdir: a Trainer that died resumes when the pipeline runs again."""

from __future__ import annotations

import os

import tfx_dcgan  # noqa: F401
from tfx_dcgan.components import trainer_module
from tfx_dcgan.config import ExperimentConfig, ModelConfig, TrainConfig

import pytest
import tensorflow as tf


def _custom_config(root, steps=10, ngf=8):
    experiment = ExperimentConfig(model=ModelConfig(ngf=ngf), train=TrainConfig(steps=steps))
    config = {trainer_module.EXPERIMENT_KEY: experiment.to_dict()}
    if root:
        config[trainer_module.CHECKPOINT_ROOT_KEY] = root
    return config


def test_workdir_is_stable_for_the_same_inputs_and_steps_do_not_count(tmp_path):
    root = str(tmp_path / "ckpt")
    files = ["/t/Split-train/*"]
    first = trainer_module.training_workdir(_custom_config(root), "/run/1", files)
    assert first.startswith(root + os.sep)
    assert trainer_module.training_workdir(_custom_config(root), "/run/2", files) == first
    # More steps continue the same run.
    assert trainer_module.training_workdir(_custom_config(root, steps=50), "/run/3", files) == first
    # Another architecture or new training data starts afresh.
    assert trainer_module.training_workdir(_custom_config(root, ngf=16), "/run/4", files) != first
    assert trainer_module.training_workdir(_custom_config(root), "/run/5", ["/t2/*"]) != first


def test_without_a_checkpoint_root_the_model_run_dir_is_used():
    assert trainer_module.training_workdir(_custom_config(None), "/run/7", ["/t/*"]) == "/run/7"


def test_run_outputs_are_copied_into_the_model_run_dir(tmp_path):
    workdir, model_run = tmp_path / "durable", tmp_path / "model_run"
    for relative in (
        "samples/final.png",
        "tensorboard/events.x",
        "checkpoints/checkpoint",
        "train_log.jsonl",
    ):
        os.makedirs((workdir / relative).parent, exist_ok=True)
        (workdir / relative).write_text(relative)
    trainer_module.copy_run_outputs(str(workdir), str(model_run))
    for relative in (
        "samples/final.png",
        "tensorboard/events.x",
        "checkpoints/checkpoint",
        "train_log.jsonl",
    ):
        assert (model_run / relative).read_text() == relative


def test_an_empty_training_split_is_a_clear_error(tmp_path):
    empty = str(tmp_path / "Split-train" / "data_tfrecord-00000-of-00001.gz")
    os.makedirs(os.path.dirname(empty))
    with tf.io.TFRecordWriter(empty, "GZIP"):
        pass
    with pytest.raises(ValueError, match="training split is empty.*ingest_report.json"):
        trainer_module.make_transformed_dataset_factory(
            [str(tmp_path / "Split-train" / "*")], image_size=16, channels=3, global_batch_size=4
        )
