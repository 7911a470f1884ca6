"""The descriptor-level tee: file descriptors 1 and 2 become pipes that one reader thread drains.

`dup2` puts a pipe over fd 1 and fd 2, so everything the process writes reaches the reader:
Python's `print` and logging, and what C++ code (TensorFlow, ML Metadata, gRPC) writes to fd 2
before and after Python's logging exists; child processes (Beam's workers) inherit the pipes too.
The reader writes every line to the log file as it arrives, then hands it on (to the console's
view). `stop` puts the original descriptors back and drains what is left.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Callable

__all__ = ["FdTee", "split_lines"]

_READ_SIZE = 65536
# A partial line longer than this is handed on without waiting for its newline.
_MAX_PENDING = 1 << 20


def split_lines(pending: bytes, data: bytes) -> tuple[list[bytes], bytes]:
    """(complete lines without their newline, the unterminated rest) of `pending + data`."""
    buffer = pending + data
    *lines, rest = buffer.split(b"\n")
    if len(rest) > _MAX_PENDING:
        lines.append(rest)
        rest = b""
    return lines, rest


class FdTee:
    """Redirects fds 1 and 2 through pipes; every line goes to `log` and then to `on_line`."""

    def __init__(
        self,
        log_file,
        on_line: Callable[[int, bytes], None],
    ) -> None:
        """Args:
        log_file: a binary file open for appending; receives every line, as written.
        on_line: called as on_line(fd, line) in the reader thread, line without its newline;
          returns True when the line is not log content (a progress event) and was not logged.
        """
        self._log = log_file
        self._on_line = on_line
        self._saved: dict[int, int] = {}
        self._pipes: dict[int, int] = {}  # read end -> the fd it stands for
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def saved(self) -> dict[int, int]:
        """The original descriptors of 1 and 2 (the real terminal), while the tee runs."""
        return dict(self._saved)

    def start(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        for fd in (1, 2):
            self._saved[fd] = os.dup(fd)
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)
            os.close(write_end)
            self._pipes[read_end] = fd
        try:
            sys.stdout.reconfigure(line_buffering=True)  # prints keep their place among the logs
        except (AttributeError, ValueError):
            pass
        self._thread = threading.Thread(target=self._pump, name="console-tee", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Restores fds 1 and 2 and waits for the reader to drain the pipes (up to `timeout`)."""
        if self._thread is None:
            return
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)  # closes this process's write end of the pipe
        # A child that outlived its parent's work (still holding a write end) must not hang us.
        self._thread.join(timeout)
        self._thread = None
        for read_end in list(self._pipes):
            try:
                os.close(read_end)
            except OSError:
                pass
        self._pipes.clear()
        for saved in self._saved.values():
            os.close(saved)
        self._saved.clear()

    def write_log(self, text: str) -> None:
        """Writes a line of the console's own to the log (from any thread)."""
        with self._lock:
            self._log.write(text.encode("utf-8", "replace") + b"\n")
            self._log.flush()

    def _pump(self) -> None:
        pending = {read_end: b"" for read_end in self._pipes}
        open_ends = set(self._pipes)
        while open_ends:
            try:
                ready, _, _ = select.select(list(open_ends), [], [], 0.5)
            except (OSError, ValueError):
                break
            for read_end in sorted(ready, key=self._pipes.get):  # stdout first
                try:
                    data = os.read(read_end, _READ_SIZE)
                except OSError:
                    data = b""
                if not data:
                    open_ends.discard(read_end)
                    lines, pending[read_end] = (
                        ([pending[read_end]] if pending[read_end] else []),
                        b"",
                    )
                else:
                    lines, pending[read_end] = split_lines(pending[read_end], data)
                for line in lines:
                    self._handle(self._pipes[read_end], line)

    def _handle(self, fd: int, line: bytes) -> None:
        try:
            consumed = self._on_line(fd, line)
        except Exception as error:  # noqa: BLE001 - the tee must outlive a rendering bug
            consumed = False
            self.write_log(f"[console] could not show a line: {error!r}")
        if not consumed:
            with self._lock:
                self._log.write(line + b"\n")
                self._log.flush()
