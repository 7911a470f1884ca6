"""Faults survived: a full disk (file size limit) during a checkpoint save and an export."""

from __future__ import annotations

import json
import os

import pytest
from conftest import REPO_ROOT, run_python

pytestmark = pytest.mark.slow


def test_a_full_disk_fails_clearly_and_keeps_the_previous_checkpoint(tmp_path):
    completed = run_python(
        [
            os.path.join(REPO_ROOT, "tests", "scripts", "disk_full.py"),
            str(tmp_path / "run"),
            str(tmp_path / "exports"),
        ],
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    limit = result["checkpoint_limit"]
    error = result["checkpoint_error"]
    assert "could not write checkpoint 4 in " + str(tmp_path / "run" / "checkpoints") in error
    assert f"at most {limit} bytes (RLIMIT_FSIZE)" in error and "File too large" in error
    assert "ckpt-2) is untouched" in error
    # Every file of the previous checkpoint, and the state file naming it, byte for byte.
    assert result["after"] == result["before"]
    assert result["latest"].endswith("ckpt-2")
    assert not os.path.exists(tmp_path / "run" / "checkpoints" / "ckpt-4_temp")

    export_error = result["export_error"]
    assert (
        f"could not write the SavedModel for {tmp_path / 'exports' / 'generator'}" in export_error
    )
    assert "at most 4096 bytes (RLIMIT_FSIZE)" in export_error
    assert "nothing was published" in export_error
    assert result["export_root"] == []  # no export, no staging folder left behind
