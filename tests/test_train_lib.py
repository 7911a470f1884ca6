"""The training loop in-process on the default strategy: artifacts, resume, refusals."""

from __future__ import annotations

import dataclasses
import glob
import json
import os

import tfx_dcgan  # noqa: F401
from tfx_dcgan import gan_step, train_lib
from tfx_dcgan.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, TrainConfig

import numpy as np
import pytest
import tensorflow as tf

TINY_MODEL = ModelConfig(image_size=16, ngf=4, ndf=4, kernel_size=3)


def _config(data_dir, steps=4, **train_kwargs):
    train = dict(
        batch_size=8, steps=steps, log_every=2, sample_every=2, checkpoint_every=2, sample_grid=9
    )
    train.update(train_kwargs)
    return ExperimentConfig(
        data=DataConfig(data_dir=data_dir),
        model=TINY_MODEL,
        train=TrainConfig(**train),
    )


def _snapshot(folder):
    return {p: os.path.getmtime(p) for p in glob.glob(os.path.join(folder, "**"), recursive=True)}


def test_training_writes_checkpoints_logs_and_samples(tmp_path, image_folder):
    result = train_lib.train(_config(image_folder), str(tmp_path / "run"))
    assert result.step == 4 and not result.interrupted
    assert result.skipped_images == 3  # the fixture's corrupt files, counted
    assert tf.train.latest_checkpoint(result.checkpoint_dir).endswith("ckpt-4")
    assert os.path.exists(os.path.join(result.samples_dir, "step_0000002.png"))
    assert result.final_sample_png.endswith("final.png") and os.path.exists(result.final_sample_png)
    assert glob.glob(os.path.join(result.tensorboard_dir, "events.out.tfevents.*"))
    lines = [json.loads(line) for line in open(os.path.join(result.workdir, "train_log.jsonl"))]
    assert [line["step"] for line in lines] == [2, 4]
    for line in lines:
        assert all(np.isfinite(line[k]) for k in ("disc_loss", "gen_loss", "d_real", "d_fake"))
        assert 0.0 < line["d_real"] < 1.0 and 0.0 < line["d_fake"] < 1.0
    stored = json.load(open(os.path.join(result.workdir, "config.json")))
    assert stored["model"]["ngf"] == 4


def test_training_changes_both_networks(tmp_path, image_folder):
    config = _config(image_folder, steps=2)
    strategy = tf.distribute.get_strategy()
    before = gan_step.create_gan_state(config, strategy)
    g0 = [w.copy() for w in before.generator.get_weights()]
    d0 = [w.copy() for w in before.discriminator.get_weights()]
    result = train_lib.train(config, str(tmp_path / "run"))
    changed = lambda old, new: any(not np.array_equal(a, b) for a, b in zip(old, new))  # noqa: E731
    assert changed(g0, result.generator.get_weights())
    assert changed(d0, result.discriminator.get_weights())


def test_resume_continues_from_the_checkpoint(tmp_path, image_folder):
    workdir = tmp_path / "run"
    train_lib.train(_config(image_folder, steps=2), str(workdir))
    result = train_lib.train(_config(image_folder, steps=4), str(workdir))
    assert result.step == 4
    lines = [json.loads(line)["step"] for line in open(os.path.join(workdir, "train_log.jsonl"))]
    assert lines == [2, 4]  # steps 1-2 were not trained twice
    generator, discriminator, step = train_lib.restore_models(str(workdir))
    assert step == 4
    np.testing.assert_array_equal(
        generator.get_layer("g_project").kernel.numpy(),
        result.generator.get_layer("g_project").kernel.numpy(),
    )
    # Asking for fewer steps than already trained does nothing but write the final grid.
    again = train_lib.train(_config(image_folder, steps=3), str(workdir))
    assert again.step == 4 and os.path.exists(again.final_sample_png)


def test_incompatible_workdir_is_refused_and_left_untouched(tmp_path, image_folder):
    workdir = tmp_path / "run"
    train_lib.train(_config(image_folder, steps=2), str(workdir))
    before = _snapshot(str(workdir))
    wider = _config(image_folder, steps=4)
    wider = ExperimentConfig(
        data=wider.data,
        model=ModelConfig(image_size=16, ngf=8, ndf=4, kernel_size=3),
        train=wider.train,
    )
    with pytest.raises(ConfigError, match="model.ngf: stored 4, requested 8"):
        train_lib.train(wider, str(workdir))
    assert _snapshot(str(workdir)) == before
    # Fields that change what the checkpoint's numbers mean are refused too.
    for model, message in (
        (dataclasses.replace(TINY_MODEL, noise="normal"), "model.noise: stored 'uniform'"),
        (dataclasses.replace(TINY_MODEL, sync_batch_norm=True), "model.sync_batch_norm: stored"),
    ):
        with pytest.raises(ConfigError, match=message):
            train_lib.train(dataclasses.replace(wider, model=model), str(workdir))
    assert _snapshot(str(workdir)) == before


def test_non_finite_losses_stop_without_overwriting_checkpoints(tmp_path, image_folder):
    workdir = tmp_path / "run"
    train_lib.train(_config(image_folder, steps=2), str(workdir))
    before = _snapshot(os.path.join(workdir, "checkpoints"))

    def poisoned(start_step):
        return tf.data.Dataset.from_tensors(tf.fill([8, 16, 16, 3], float("nan"))).repeat()

    with pytest.raises(train_lib.TrainingError, match="non-finite losses at step 4"):
        train_lib.train(_config(image_folder, steps=6), str(workdir), make_dataset=poisoned)
    assert _snapshot(os.path.join(workdir, "checkpoints")) == before
    _, _, step = train_lib.restore_models(str(workdir))
    assert step == 2


def test_missing_data_folder_is_a_clear_error(tmp_path):
    from tfx_dcgan.input_pipeline import DataError

    with pytest.raises(DataError, match="does not exist"):
        train_lib.train(_config(str(tmp_path / "nowhere")), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_create_gan_state_builds_the_papers_adam():
    state = gan_step.create_gan_state(
        ExperimentConfig(model=TINY_MODEL), tf.distribute.get_strategy()
    )
    for optimizer in (state.generator_optimizer, state.discriminator_optimizer):
        assert isinstance(optimizer, tf.keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
        assert float(optimizer.beta_1) == pytest.approx(0.5)
    assert state.generator_optimizer is not state.discriminator_optimizer
