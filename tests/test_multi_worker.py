"""MultiWorkerMirroredStrategy: two worker processes on loopback train one model together."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, write_image_folder


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


TRAIN_ARGS = [
    "--image_size=16",
    "--ngf=4",
    "--ndf=4",
    "--kernel_size=3",
    "--batch_size=8",
    "--steps=4",
    "--log_every=2",
    "--checkpoint_every=2",
    "--sample_grid=4",
    "--sample_every=0",
    "--verbosity=0",  # the full log on the console (the tests read each worker's start line)
]


def _run_workers(commands: list[list[str]]) -> list[str]:
    """Runs one process per command as workers 0..n-1 of a loopback cluster; their outputs."""
    ports = _free_ports(len(commands))
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index, command in enumerate(commands):
        env = dict(
            os.environ,
            PYTHONUNBUFFERED="1",
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, *command],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=400)
        except BaseException:
            # Only a worker that hangs takes the others down: a worker that finished must not
            # kill a peer still shutting down (seen as returncode -9 right after "done").
            for other in processes:
                if other.poll() is None:
                    other.kill()
            raise
        outputs.append(output)
        assert process.returncode == 0, output[-4000:]
    return outputs


def _weights(workdir: str) -> list[np.ndarray]:
    from tfx_dcgan import train_lib

    generator, discriminator, step = train_lib.restore_models(workdir)
    assert step == 4
    return generator.get_weights() + discriminator.get_weights()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two workers (the CLI), one process over 2 logical CPUs (the CLI), and the control."""
    root = tmp_path_factory.mktemp("multi_worker")
    data_dir = str(root / "images")
    write_image_folder(data_dir, {"": 24}, size=16)
    workers = str(root / "workers")
    cli = ["-m", "tfx_dcgan.cli.train", f"--data_dir={data_dir}", *TRAIN_ARGS]
    outputs = _run_workers(
        [[*cli, f"--workdir={workers}", "--strategy=multi_worker"] for _ in range(2)]
    )
    single = str(root / "single")
    completed = subprocess.run(
        [
            sys.executable,
            *cli,
            f"--workdir={single}",
            "--strategy=mirrored",
            "--cpu_replicas=2",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    control = str(root / "control")
    script = os.path.join("tests", "scripts", "multi_worker_train.py")
    config = os.path.join(workers, "config.json")
    _run_workers(
        [
            [script, config, control, "off", str(root / f"control-worker-{index}.npz")]
            for index in range(2)
        ]
    )
    return {
        "root": str(root),
        "outputs": outputs,
        "workers": workers,
        "single": single,
        "control": control,
    }


@pytest.mark.slow
def test_two_workers_train_in_lockstep(runs):
    outputs, workdir = runs["outputs"], runs["workers"]
    assert "(worker-0): 2 replica(s)" in outputs[0]
    assert "(worker-1): 2 replica(s)" in outputs[1]
    # The chief (worker 0) owns the workdir; worker 1's scratch checkpoints are gone at the end.
    assert os.path.exists(os.path.join(workdir, "samples", "final.png"))
    assert not os.path.exists(os.path.join(workdir, ".workers"))
    from tfx_dcgan import models
    from tfx_dcgan.config import ModelConfig

    config = ModelConfig(image_size=16, ngf=4, ndf=4, kernel_size=3)
    initial = models.build_generator(config, seed=0).get_weights()
    chief = _weights(workdir)
    assert any(not np.allclose(a, b) for a, b in zip(initial, chief))
    # Gradients are all-reduced, so the workers hold the same weights after every step (shown on
    # the control run, whose script saves each worker's final weights).
    worker_0 = np.load(os.path.join(runs["root"], "control-worker-0.npz"))
    worker_1 = np.load(os.path.join(runs["root"], "control-worker-1.npz"))
    assert len(worker_0.files) == len(chief)
    for key in worker_0.files:
        np.testing.assert_allclose(worker_0[key], worker_1[key], rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_two_workers_equal_one_process_over_two_devices(runs):
    # Same global batch, seed and BN mode: worker i trains on the i-th half of every global batch,
    # as replica i of MirroredStrategy does; only the reduction order differs.
    for a, b in zip(_weights(runs["workers"]), _weights(runs["single"])):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_the_control_with_both_workers_on_the_same_half_differs(runs):
    differences = [
        float(np.max(np.abs(a - b)))
        for a, b in zip(_weights(runs["control"]), _weights(runs["single"]))
    ]
    # It must fail the 1e-5 comparison above, by a margin: 4 Adam steps of lr 2e-4 move a weight
    # by at most ~8e-4, and feeding both workers the same half moved some by ~9e-4.
    assert max(differences) > 1e-4, differences
