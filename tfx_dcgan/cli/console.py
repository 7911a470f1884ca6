"""The commands' console (`tfx_dcgan.console`) as the CLI starts it: absl's `--verbosity`
(or `-v`), when given, shows the full log on the terminal; otherwise it shows the short view."""

from __future__ import annotations

from tfx_dcgan.console import Console

from absl import flags

__all__ = ["start"]


def start(command: str, log_dir: str) -> Console:
    """Starts `command`'s console with its log under `<log_dir>/logs/` (prints the path first).

    Call it after the flags are checked (a bad flag writes nothing) and before TensorFlow loads
    (its C++ start-up lines then reach the log).
    """
    return Console.start(command, log_dir, show_all=flags.FLAGS["verbosity"].present > 0)
