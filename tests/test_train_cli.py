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
    # The full log on the console (the tests read its resume and checkpoint lines).
    "--verbosity=0",
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


def _start(workdir, data_dir, steps, env=None):
    args = [
        sys.executable,
        "-m",
        "tfx_dcgan.cli.train",
        f"--data_dir={data_dir}",
        f"--workdir={workdir}",
        f"--steps={steps}",
        *TINY_FLAGS,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen(
        args, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _logged_steps(workdir):
    log_path = os.path.join(workdir, "train_log.jsonl")
    if not os.path.exists(log_path):
        return []
    return [json.loads(line)["step"] for line in open(log_path) if line.strip()]


def _wait_for(predicate, process, what, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        assert process.poll() is None, f"exited before {what}: " + process.stdout.read()[-3000:]
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached in {timeout}s")


def _wait_for_step(workdir, step, process, timeout=180):
    return _wait_for(
        lambda: (_logged_steps(workdir) or [0])[-1] >= step and _logged_steps(workdir)[-1],
        process,
        f"step {step}",
        timeout,
    )


def _checkpoint_state_step(workdir) -> int:
    """The step of the checkpoint the `checkpoint` state file names (what a restart resumes)."""
    with open(os.path.join(workdir, "checkpoints", "checkpoint")) as handle:
        first = handle.readline()  # model_checkpoint_path: "ckpt-N"
    return int(first.split("ckpt-")[1].split('"')[0])


def _kill_seed() -> int:
    """Seed of the kill steps: $TFX_DCGAN_KILL_SEED to replay a failure, else a fresh one."""
    seed = int(os.environ.get("TFX_DCGAN_KILL_SEED") or np.random.SeedSequence().entropy % 10**6)
    print(f"kill steps drawn with TFX_DCGAN_KILL_SEED={seed}")
    return seed


def _final_weights(workdir):
    from tfx_dcgan import train_lib

    generator, discriminator, step = train_lib.restore_models(str(workdir))
    return generator.get_weights() + discriminator.get_weights(), step


@pytest.mark.slow
def test_killed_and_interrupted_runs_resume_exactly(tmp_path, data_dir):
    """SIGKILL at two random steps, SIGKILL in the middle of a checkpoint save, SIGTERM and
    Ctrl-C: each rerun resumes from the last checkpoint, losing at most one checkpoint interval,
    and the run ends with the weights of an uninterrupted run."""
    steps, interval = 40, 3  # --checkpoint_every=3 in TINY_FLAGS
    rng = np.random.default_rng(_kill_seed())
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
    # 1. SIGKILL at two random steps: no chance to save; each rerun resumes from the checkpoint
    # before the kill, at most one interval back.
    resumed_from = []
    for low, high in ((4, 10), (11, 19)):
        process = _start(workdir, data_dir, steps)
        _wait_for_step(workdir, int(rng.integers(low, high)), process)
        process.kill()
        output, _ = process.communicate(timeout=60)
        if resumed_from:
            assert f"ckpt-{resumed_from[-1]} at step {resumed_from[-1]}" in output
        last_logged = _logged_steps(workdir)[-1]
        resumed_from.append(_checkpoint_state_step(workdir))
        assert 0 <= last_logged - resumed_from[-1] <= interval, (last_logged, resumed_from)

    # 2. SIGKILL while checkpoint 24 is being written (a test-only hook pauses the save after
    # its files are written, before the state file names them): the rerun resumes from 21.
    pause = {"TFX_DCGAN_TEST_PAUSE_IN_SAVE": "24:120"}
    process = _start(workdir, data_dir, steps, env=pause)
    marker = os.path.join(workdir, "checkpoints", ".paused-in-save")
    _wait_for(lambda: os.path.exists(marker), process, "the paused save of step 24")
    assert os.path.exists(os.path.join(workdir, "checkpoints", "ckpt-24.index"))
    assert _checkpoint_state_step(workdir) == 21
    process.kill()
    output, _ = process.communicate(timeout=60)
    assert f"ckpt-{resumed_from[-1]} at step {resumed_from[-1]}" in output
    os.remove(marker)
    assert _checkpoint_state_step(workdir) == 21

    # 3. SIGTERM (what Kubernetes sends before SIGKILL) and Ctrl-C: a checkpoint at the step the
    # run stopped, a clean exit (130) and a resume hint.
    for signum, low, high in ((signal.SIGTERM, 26, 30), (signal.SIGINT, 31, 35)):
        process = _start(workdir, data_dir, steps)
        reached = _wait_for_step(workdir, int(rng.integers(low, high)), process)
        process.send_signal(signum)
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 130, output[-3000:]
        assert f"stopped by {signal.Signals(signum).name}" in output
        assert "Run the same command to resume" in output
        interrupted_step = int(output.split("interrupted at step ")[1].split(";")[0])
        assert interrupted_step >= reached
        _, saved_step = _final_weights(workdir)
        assert saved_step == interrupted_step == _checkpoint_state_step(workdir)
    assert "resumed from" in output
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
