"""Runs a command under a pseudo-terminal, as a person's terminal runs it, and keeps what it shows.

Tests import it as `from pty_run import run_in_pty` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

from tfx_dcgan.console.view import visible_lines

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class PtyRun:
    """A finished run: its exit code and everything it wrote to the terminal."""

    returncode: int
    transcript: str  # raw, with carriage returns and escape codes

    @property
    def lines(self) -> list[str]:
        """What the terminal shows, line by line (a bar's refreshes are one line)."""
        return visible_lines(self.transcript)

    @property
    def stdout(self) -> str:
        """The visible text (stdout and stderr share the terminal)."""
        return "\n".join(self.lines) + "\n"


def run_in_pty(
    args: list[str],
    *,
    timeout: float,
    cwd: str = REPO_ROOT,
    env: dict[str, str] | None = None,
    columns: int = 120,
    rows: int = 40,
) -> PtyRun:
    """Runs `args` with stdin, stdout and stderr on a new pseudo-terminal of `columns` x `rows`;
    reads until the process exits and the terminal closes.

    Raises:
      TimeoutError: not finished within `timeout` seconds (the process group is killed).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise TimeoutError(
                    f"{args} did not finish in {timeout} s; last output:\n"
                    + b"".join(chunks)[-3000:].decode("utf-8", "replace")
                )
            ready, _, _ = select.select([master], [], [], min(remaining, 1.0))
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    returncode = process.wait(timeout=60)
    return PtyRun(returncode, b"".join(chunks).decode("utf-8", "replace"))
