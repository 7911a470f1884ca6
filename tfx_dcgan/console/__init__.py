"""A command's console: a short live view on the terminal, the full log in a file.

    console = Console.start("pipeline", log_dir=output_dir)   # first line: the log's path
    ...                                                        # the run
    console.stop(exit_code)                                    # on failure: the log's path again

`start` prints the log file's path first, then tees file descriptors 1 and 2 (`tee.FdTee`):
every byte written by Python, by C++ (before Python's logging exists too) and by child processes
goes to `<log_dir>/logs/<command>-<time>.log`; the terminal gets what `noise.LineFilter` keeps
(warnings and errors that are not known noise, prints, the console's own lines) and the live bars
of `tfx_dcgan.progress` (`view.View`). `show_all` (the CLI's `--verbosity`) shows every line.
Python logging is set to INFO so that the log file holds the INFO records the terminal does not
show. TensorFlow's C++ log level is left as it is.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import tempfile

from tfx_dcgan import progress
from tfx_dcgan.console import noise
from tfx_dcgan.console.tee import FdTee, split_lines
from tfx_dcgan.console.view import View

__all__ = ["Console", "log_path_for", "noise", "split_lines"]


def log_path_for(
    log_dir: str, command: str, now: datetime.datetime | None = None, pid: int | None = None
) -> str:
    """`<log_dir>/logs/<command>-YYYYmmdd-HHMMSS-<pid>.log` (local time; the pid keeps two
    processes sharing a folder, such as the workers of one training run, apart).

    A remote `log_dir` (gs://, s3://) gets a local log under the temp folder instead: the tee
    writes a local file.
    """
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    if "://" in log_dir:
        log_dir = os.path.join(tempfile.gettempdir(), "tfx-dcgan")
    name = f"{command}-{stamp}-{os.getpid() if pid is None else pid}.log"
    return os.path.join(os.path.abspath(log_dir), "logs", name)


class Console:
    """One command's console session (see the module docstring)."""

    def __init__(self, log_path: str, *, show_all: bool = False, bars: bool | None = None):
        """Args:
        log_path: the log file (its folder is created).
        show_all: every log line reaches the terminal too.
        bars: live bars; None = when stdout is a terminal.
        """
        self.log_path = log_path
        self.show_all = show_all
        self._bars = sys.stdout.isatty() if bars is None else bars
        self._tee: FdTee | None = None
        self._view: View | None = None
        self._log_file = None
        self._previous_env: str | None = None
        self._terminal: list = []

    @classmethod
    def start(cls, command: str, log_dir: str, *, show_all: bool = False) -> Console:
        """Starts a console for `command` with its log under `log_dir/logs/`."""
        console = cls(log_path_for(log_dir, command), show_all=show_all)
        console.open()
        return console

    def open(self) -> None:
        """Prints the log's path, then starts the tee (call before TensorFlow is imported)."""
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        print(f"log: {self.log_path}", flush=True)
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file.write(f"log: {self.log_path}\n".encode())
        self._tee = FdTee(self._log_file, self._on_line)
        self._tee.start()
        saved = self._tee.saved
        self._terminal = [
            os.fdopen(saved[fd], "w", encoding="utf-8", errors="replace", closefd=False)
            for fd in (1, 2)
        ]
        self._view = View(
            self._terminal[0],
            self._terminal[1],
            self._tee.write_log,
            show_all=self.show_all,
            bars=self._bars,
        )
        self._previous_env = os.environ.get(progress.ENV)
        os.environ[progress.ENV] = "1"
        if not self.show_all:
            # The log file holds INFO; the terminal shows warnings and worse.
            _set_logging_level(logging.INFO)

    def _on_line(self, fd: int, raw: bytes) -> bool:
        text = raw.decode("utf-8", "replace")
        event = progress.decode(text)
        if event is not None:
            self._view.event(event)
            return True
        self._view.line(fd, text)
        return False

    def stop(self, exit_code: int = 0) -> None:
        """Ends the tee; a failed run (non-zero `exit_code`) ends with the log's path."""
        if self._tee is None:
            return
        if self._previous_env is None:
            os.environ.pop(progress.ENV, None)
        else:
            os.environ[progress.ENV] = self._previous_env
        self._tee.stop()
        self._view.close()
        for stream in self._terminal:
            stream.flush()
        self._tee = None
        self._log_file.close()
        if exit_code:
            print(f"the full log: {self.log_path}", file=sys.stderr, flush=True)

    def __enter__(self) -> Console:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop(1 if exc_type is not None else 0)


def _set_logging_level(level: int) -> None:
    """Python logging (and absl's logger, which follows the root under absl's handler) at
    `level`."""
    logging.getLogger().setLevel(level)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.converter.standard_to_absl(level))
    except ImportError:
        pass
