"""`tfx-dcgan fid` in fresh processes on tiny data: folder against folder, a workdir's generator
against a folder (samples saved), and a bad flag."""

from __future__ import annotations

import json
import os

import tfx_dcgan  # noqa: F401
from tfx_dcgan.metrics import scoring

import pytest
from conftest import run_python, train_tiny_gan, write_image_folder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fid_cli")
    write_image_folder(str(root / "real"), {"a": 8, "b": 8}, size=16)
    write_image_folder(str(root / "other"), {"a": 8, "b": 8}, size=16, seed=5)
    workdir = str(root / "gan")
    train_tiny_gan(str(root / "real"), workdir, steps=1)
    return root, workdir


def _fid(*args: str):
    # --verbosity=0: the full log on the console (the tests read the feature cache's lines).
    return run_python(["-m", "tfx_dcgan.cli.fid", "--verbosity=0", *args], timeout=600)


def test_a_folder_against_itself_scores_zero_and_another_does_not(data):
    root, _ = data
    cache = f"--cache_dir={root / 'cache'}"
    same = _fid(f"--real_dir={root / 'real'}", f"--fake_dir={root / 'real'}", "--count=0",
                f"--output_json={root / 'same.json'}", "--kid_subsets=5", cache)  # fmt: skip
    assert same.returncode == 0, same.stderr[-3000:]
    assert "real features from the cache" not in same.stderr
    other = _fid(f"--real_dir={root / 'real'}", f"--fake_dir={root / 'other'}", "--count=0",
                 f"--output_json={root / 'other.json'}", "--kid_subsets=5", cache)  # fmt: skip
    assert other.returncode == 0, other.stderr[-3000:]
    # The same real folder, count and seed: its features come from the cache the first run wrote.
    assert "real features from the cache" in other.stderr
    assert len(os.listdir(root / "cache")) == 1
    with open(root / "same.json") as stream:
        same_result = json.load(stream)
    with open(root / "other.json") as stream:
        other_result = json.load(stream)
    assert same_result["num_generated"] == 16 and "fid_16" in same_result
    assert abs(same_result["fid_16"]) < 1e-3
    assert other_result["fid_16"] > 1.0
    assert "fid_16 = " in other.stdout


def test_a_workdir_generator_is_scored_and_its_samples_saved(data):
    root, workdir = data
    completed = _fid(f"--real_dir={root / 'real'}", f"--workdir={workdir}", "--count=12",
                     f"--save_samples={root / 'samples'}", f"--output_json={root / 'gan.json'}",
                     "--kid_subsets=5")  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(root / "gan.json") as stream:
        result = json.load(stream)
    assert result["num_generated"] == 12 and result["num_real"] == 12
    assert result["fid_12"] > 0 and result["kid_12"] == result["kid_12"]  # finite, not NaN
    assert sorted(os.listdir(root / "samples")) == [f"sample_{i:06d}.png" for i in range(12)]
    # The saved files are the scored images: rescoring them as a folder gives the same FID.
    rescored = _fid(f"--real_dir={root / 'real'}", f"--fake_dir={root / 'samples'}",
                    "--count=12", f"--output_json={root / 'rescored.json'}", "--kid_subsets=5")  # fmt: skip
    assert rescored.returncode == 0, rescored.stderr[-3000:]
    with open(root / "rescored.json") as stream:
        assert json.load(stream)["fid_12"] == pytest.approx(result["fid_12"], rel=1e-6)


def test_two_generated_sources_are_refused(data):
    root, workdir = data
    completed = _fid(f"--real_dir={root / 'real'}", f"--workdir={workdir}",
                     f"--fake_dir={root / 'other'}")  # fmt: skip
    assert completed.returncode != 0
    assert "exactly one of --fake_dir, --workdir, --generator_dir and --server" in completed.stderr


def test_a_non_empty_samples_folder_is_refused(data, tmp_path):
    root, workdir = data
    (tmp_path / "old.png").write_bytes(b"x")
    completed = _fid(f"--real_dir={root / 'real'}", f"--workdir={workdir}", "--count=4",
                     f"--save_samples={tmp_path}")  # fmt: skip
    assert completed.returncode != 0
    assert f"--save_samples='{tmp_path}' is not empty" in completed.stderr
    assert os.listdir(tmp_path) == ["old.png"]


def test_count_labels():
    assert [scoring.count_label(n) for n in (2000, 10000, 500, 256, 1500)] == [
        "2k", "10k", "500", "256", "1500"
    ]  # fmt: skip
