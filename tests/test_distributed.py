"""tf.distribute: MirroredStrategy over 2 logical CPUs, and synchronized batch norm (fresh process)."""

from __future__ import annotations

import json

import pytest
from conftest import run_python


@pytest.fixture(scope="module")
def first_steps():
    completed = run_python(["tests/scripts/first_step_losses.py"], timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_mirrored_strategy_runs_two_replicas(first_steps):
    assert first_steps["default"]["replicas"] == 1
    assert first_steps["mirrored_sync_bn"]["replicas"] == 2
    for step in first_steps["mirrored_local_bn"]["steps"]:
        assert all(0 < step[k] < 10 for k in ("disc_loss", "gen_loss"))


def test_sync_batch_norm_matches_the_single_replica_step(first_steps):
    # With batch norm over the global batch, splitting it over 2 replicas changes nothing:
    # both steps (the second one after both networks were updated) agree with one replica.
    for got, want in zip(first_steps["mirrored_sync_bn"]["steps"], first_steps["default"]["steps"]):
        for key in ("disc_loss", "gen_loss", "d_real", "d_fake"):
            assert got[key] == pytest.approx(want[key], rel=1e-4, abs=1e-5), key


def test_replica_local_batch_norm_differs(first_steps):
    # Without sync each replica normalises its own half-batch: the D loss is not the global one.
    # (Documented behaviour; the paper's semantics need --sync_batch_norm.)
    local = first_steps["mirrored_local_bn"]["steps"][0]["disc_loss"]
    assert abs(local - first_steps["default"]["steps"][0]["disc_loss"]) > 1e-4


def test_sync_batch_norm_matches_the_single_replica_weights_after_one_sgd_step(first_steps):
    # Plain SGD moves each weight by lr x gradient, so a gradient summed instead of averaged over
    # replicas (or averaged twice) shows here as a relative difference near 1; Adam would hide it.
    sgd = first_steps["sgd"]
    assert sgd["num_variables"] > 10
    assert sgd["max_update"] > 1e-2  # the step did move the weights
    assert sgd["max_relative_difference"] < 1e-3
