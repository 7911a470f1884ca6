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


@pytest.mark.slow
def test_two_workers_train_in_lockstep(tmp_path):
    data_dir = str(tmp_path / "images")
    write_image_folder(data_dir, {"": 24}, size=16)
    workdir = str(tmp_path / "run")
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        env = dict(
            os.environ,
            PYTHONUNBUFFERED="1",
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tfx_dcgan.cli.train",
                    f"--data_dir={data_dir}",
                    f"--workdir={workdir}",
                    "--strategy=multi_worker",
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
                ],
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
    assert "(worker-0): 2 replica(s)" in outputs[0]
    assert "(worker-1): 2 replica(s)" in outputs[1]

    # The chief (worker 0) owns the workdir; worker 1 checkpoints into its scratch folder only.
    from tfx_dcgan import models, train_lib
    from tfx_dcgan.config import ModelConfig

    assert os.path.exists(os.path.join(workdir, "samples", "final.png"))
    chief_g, chief_d, chief_step = train_lib.restore_models(workdir)
    assert chief_step == 4
    import tensorflow as tf

    config = ModelConfig(image_size=16, ngf=4, ndf=4, kernel_size=3)
    worker_g, worker_d = models.build_generator(config), models.build_discriminator(config)
    tf.train.Checkpoint(generator=worker_g, discriminator=worker_d).restore(
        tf.train.latest_checkpoint(os.path.join(workdir, ".workers", "worker-1"))
    ).expect_partial()
    # Gradients are all-reduced, so both workers hold the same weights after every step.
    for a, b in zip(
        chief_g.get_weights() + chief_d.get_weights(),
        worker_g.get_weights() + worker_d.get_weights(),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    initial = models.build_generator(config, seed=0).get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(initial, chief_g.get_weights()))
