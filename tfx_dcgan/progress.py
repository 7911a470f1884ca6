"""Progress of the long steps (training, feature extraction, FID, the Beam ingest), for a console.

Library code reports through `task(...)` and knows nothing of terminals. A console
(`tfx_dcgan.console`, started by the CLI) sets `$TFX_DCGAN_PROGRESS=1` before anything runs;
every report then becomes one marker line written to file descriptor 2 in a single `write`
(atomic on a pipe up to PIPE_BUF = 4096 bytes, so the lines of several processes never
interleave), which the console's reader turns into a live bar. Beam's worker processes inherit the
variable and the descriptor, so their chunks reach the same bar. Without a console a report is an
environment lookup and nothing more.

    with progress.task("training", "training", total=2000, unit="step", initial=0) as bar:
        bar.update(step, d_loss=0.69)          # absolute position (one process)
    progress.attach("ingest").advance(1)       # a delta, from any process (Beam workers)
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

__all__ = ["ENV", "MARKER", "Task", "active", "attach", "decode", "encode", "say", "task"]

ENV = "TFX_DCGAN_PROGRESS"
# Starts every progress line; a record separator so no log line or print can look like one.
MARKER = "\x1etfx-dcgan-progress "
# Absolute updates are sent at most this often (the last one always).
_MIN_INTERVAL_S = 0.25
_MAX_LINE = 4000  # < PIPE_BUF: one write stays atomic


def active() -> bool:
    """True when a console reads the progress lines (set by the console for its process tree)."""
    return os.environ.get(ENV) == "1"


def encode(event: dict[str, Any]) -> bytes:
    """One progress event as its marker line (bytes, newline-terminated)."""
    line = MARKER + json.dumps(event, separators=(",", ":"), default=str)
    return (line[:_MAX_LINE] + "\n").encode("utf-8", "replace")


def decode(line: str) -> dict[str, Any] | None:
    """The event of a marker line, or None for any other line."""
    if not line.startswith(MARKER):
        return None
    try:
        event = json.loads(line[len(MARKER) :])
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _emit(event: dict[str, Any]) -> None:
    if not active():
        return
    try:
        os.write(2, encode(event))
    except OSError:
        pass  # a closed descriptor must never fail the work being reported


def say(text: str) -> None:
    """A line for the console (a node starting or ending): printed in order with the log's lines
    through the console when one is active, else printed to stdout."""
    if active():
        _emit({"e": "say", "text": text})
    else:
        print(text, flush=True)


class Task:
    """A handle on one progress bar; `update` from the process that opened it, `advance` from any."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self._last_sent = 0.0
        self._postfix: dict[str, Any] = {}

    def update(self, n: int, total: int | None = None, **postfix: Any) -> None:
        """Moves the bar to position `n` with the latest `postfix` values (losses, rates); sent at
        most every 0.25 s, and always at `total`."""
        self._postfix.update(postfix)
        now = time.monotonic()
        if total is None or n < total:
            if now - self._last_sent < _MIN_INTERVAL_S:
                return
        self._last_sent = now
        event: dict[str, Any] = {"e": "set", "id": self.task_id, "n": int(n)}
        if self._postfix:
            event["post"] = _format_postfix(self._postfix)
        _emit(event)

    def advance(self, n: int = 1, **counts: Any) -> None:
        """Adds `n` to the bar and `counts` (ints: images, skipped) to its totals; every call is
        sent, so the deltas of several processes add up."""
        event: dict[str, Any] = {"e": "add", "id": self.task_id, "n": int(n)}
        if counts:
            event["post"] = counts
        _emit(event)

    def close(self) -> None:
        _emit({"e": "close", "id": self.task_id})

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _format_postfix(postfix: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (f"{value:.4g}" if isinstance(value, float) else value)
        for key, value in postfix.items()
    }


def task(task_id: str, desc: str, total: int, unit: str = "it", initial: int = 0) -> Task:
    """Opens a bar (`desc`, `total` units, at `initial`); use as a context manager to close it.

    Args:
      task_id: names the bar for `attach` in other processes; one open bar per id.
      desc: the label shown before the bar.
      total: the count at which it is done (0 = unknown).
      unit: what is counted ("step", "img", "chunk").
      initial: the position it starts at (a resumed training run).
    """
    _emit(
        {"e": "open", "id": task_id, "desc": desc, "total": int(total), "unit": unit, "n": initial}
    )
    return Task(task_id)


def attach(task_id: str) -> Task:
    """A handle on a bar opened elsewhere (by the process that knows the total)."""
    return Task(task_id)
