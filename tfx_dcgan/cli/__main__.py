"""`python -m tfx_dcgan.cli <command> [flags]`, the same as the `tfx-dcgan` console script."""

from tfx_dcgan.cli import run

run()
