"""Runs pytest on the files given (Bazel's py_test entry point; `bazel test //:test_models`)."""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(["-q", *sys.argv[1:]]))
