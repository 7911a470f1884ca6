"""The `tfx-dcgan train` CLI in fresh processes: bad input, and kill / Ctrl-C then exact resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO_ROOT, run_python, write_image_folder

TINY_FLAGS = [
    "--image_size=16",
    "--ngf=4",
    "--ndf=4",
    "--kernel_size=3",
    "--batch_size=8",
    "--sample_grid=4",
    "--log_every=1",
    "--checkpoint_every=3",
    "--sample_every=0",
    "--deterministic",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cli_images"))
    write_image_folder(root, {"a": 10, "b": 10}, size=16)
    return root


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--data_dir=/nonexistent/images"], "data folder '/nonexistent/images' does not exist"),
        (["--image_size=48"], "--image_size must be a power of two >= 16"),
        (["--batch_size=0"], "--batch_size must be positive"),
        (["--channels=2"], "--channels must be 1 (grayscale) or 3 (RGB)"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, data_dir, flags, message):
    args = [
        "-m",
        "tfx_dcgan.cli.train",
        f"--data_dir={data_dir}",
        f"--workdir={tmp_path}/run",
        *flags,
    ]
    completed = run_python(args, timeout=120)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert message in completed.stderr
    assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_empty_folder_is_a_clear_error(tmp_path):
    os.makedirs(tmp_path / "empty")
    completed = run_python(
        ["-m", "tfx_dcgan.cli.train", f"--data_dir={tmp_path}/empty", f"--workdir={tmp_path}/run"],
        timeout=120,
    )
    assert completed.returncode == 2
    assert "holds no image files" in completed.stderr


def test_help_explains_every_flag():
    completed = run_python(["-m", "tfx_dcgan.cli", "train", "--help"], timeout=60)
    assert completed.returncode == 0
    for flag in (
        "--data_dir",
        "--workdir",
        "--ngf",
        "--sync_batch_norm",
        "--strategy",
        "--cpu_replicas",
        "--checkpoint_every",
        "--preset",
    ):
        assert flag.lstrip("-") + ":" in completed.stdout, flag  # bools print as --[no]name


def _start(workdir, data_dir, steps):
    args = [
        sys.executable,
        "-m",
        "tfx_dcgan.cli.train",
        f"--data_dir={data_dir}",
        f"--workdir={workdir}",
        f"--steps={steps}",
        *TINY_FLAGS,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        args, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for_step(workdir, step, process, timeout=180):
    log_path = os.path.join(workdir, "train_log.jsonl")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(log_path):
            steps = [json.loads(line)["step"] for line in open(log_path) if line.strip()]
            if steps and steps[-1] >= step:
                return steps[-1]
        assert process.poll() is None, process.stdout.read()[-3000:]
        time.sleep(0.05)
    raise AssertionError(f"step {step} not reached in {timeout}s")


def _final_weights(workdir):
    from tfx_dcgan import train_lib

    generator, discriminator, step = train_lib.restore_models(str(workdir))
    return generator.get_weights() + discriminator.get_weights(), step


@pytest.mark.slow
def test_killed_and_interrupted_runs_resume_exactly(tmp_path, data_dir):
    steps = 40
    reference = tmp_path / "reference"
    completed = run_python(
        [
            "-m",
            "tfx_dcgan.cli.train",
            f"--data_dir={data_dir}",
            f"--workdir={reference}",
            f"--steps={steps}",
            *TINY_FLAGS,
        ],
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    workdir = tmp_path / "interrupted"
    # 1. SIGKILL: no chance to save; the run resumes from the last periodic checkpoint.
    process = _start(workdir, data_dir, steps)
    _wait_for_step(workdir, 8, process)
    process.kill()
    process.wait(timeout=60)
    # 2. Ctrl-C (SIGINT): the run saves a checkpoint at the step it stopped and exits 130.
    process = _start(workdir, data_dir, steps)
    reached = _wait_for_step(workdir, 20, process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    assert "Run the same command to resume" in output
    interrupted_step = int(output.split("interrupted at step ")[1].split(";")[0])
    assert interrupted_step >= reached
    _, saved_step = _final_weights(workdir)
    assert saved_step == interrupted_step
    # 3. The same command finishes the run.
    completed = run_python(
        [
            "-m",
            "tfx_dcgan.cli.train",
            f"--data_dir={data_dir}",
            f"--workdir={workdir}",
            f"--steps={steps}",
            *TINY_FLAGS,
        ],
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "resumed from" in completed.stderr
    assert "sample grid" in completed.stdout

    got, got_step = _final_weights(workdir)
    want, want_step = _final_weights(reference)
    assert got_step == want_step == steps
    # Same data order, same noise stream, same optimizer state: the same weights as the
    # uninterrupted run.
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
