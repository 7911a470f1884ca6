"""BUILD is real: every Python file belongs to a target, and `bazel test` runs one that imports TF.

Bazel 4 comes from Debian (scripts/ensure_bazel.sh installs it, as CI does) and runs offline
through scripts/bazel.sh.
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _bazel(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/bazel.sh", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_python_file_belongs_to_a_target():
    query = _bazel("query", 'kind("source file", deps(//...))')
    assert query.returncode == 0, query.stderr[-3000:]
    in_targets = {
        line[len("//:") :] for line in query.stdout.splitlines() if line.startswith("//:")
    }
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    python_files = {path for path in tracked if not path.startswith("third_party/")}
    assert python_files, "git ls-files found no Python file"
    assert sorted(python_files - in_targets) == []


def test_bazel_test_runs_the_model_tests():
    completed = _bazel("test", "//:test_models", timeout=1200)
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]
    assert "//:test_models" in completed.stdout and "PASSED" in completed.stdout
