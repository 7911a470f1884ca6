"""`tfx-dcgan probe` in a fresh process on a tiny labelled data set: the table, its files, bad flags."""

from __future__ import annotations

import json
import os

import tfx_dcgan  # noqa: F401

import pytest
from conftest import run_python, train_tiny_gan, write_image_folder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe_cli")
    write_image_folder(str(root / "train"), {"a": 12, "b": 12}, size=16)
    write_image_folder(str(root / "test"), {"a": 4, "b": 4}, size=16, seed=1)
    workdir = str(root / "gan")
    train_tiny_gan(str(root / "train"), workdir, ndf=8)
    return root, workdir


def test_probe_cli_prints_and_stores_the_table(data):
    root, workdir = data
    output_dir = root / "table"
    completed = run_python(
        [
            "-m",
            "tfx_dcgan.cli.probe",
            f"--data_root={root}",
            f"--workdir={workdir}",
            f"--output_dir={output_dir}",
            "--rows=probe_trained,probe_random",
            "--label_budgets=all,2",
        ],
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "trained D:" in completed.stdout and "step 2" in completed.stdout
    assert "| L2-SVM probe, GAN-trained D | all | 24 |" in completed.stdout
    assert "ndf=8, kernel 3; 384 probe features" in completed.stdout
    results = json.load(open(output_dir / "results.json"))
    rows = {row["row_id"]: row for row in results["rows"]}
    assert set(rows) == {
        "probe_trained-all-seed0",
        "probe_trained-2pc-seed0",
        "probe_random-all-seed0",
        "probe_random-2pc-seed0",
    }
    for row in rows.values():
        assert row["status"] == "ok" and 0.0 <= row["accuracy"] <= 1.0
        assert row["num_test"] == 8
    assert rows["probe_trained-2pc-seed0"]["num_train_labels"] == 4
    assert os.path.exists(output_dir / "results.md")


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--rows=bogus"], "--rows: unknown ['bogus']"),
        (["--label_budgets=some"], "'some' is neither 'all' nor a number"),
        (["--steps=5"], "tfx-dcgan probe does not use --steps"),
    ],
)
def test_probe_cli_bad_flags_name_the_flag(data, tmp_path, flags, message):
    root, _ = data
    completed = run_python(
        [
            "-m",
            "tfx_dcgan.cli",
            "probe",
            f"--data_root={root}",
            f"--output_dir={tmp_path}/t",
            *flags,
        ],
        timeout=120,
    )
    assert completed.returncode != 0
    assert message in completed.stderr
