"""What the terminal shows: the filtered lines, the console's own lines, and live `tqdm` bars.

Everything the terminal gets is written from one thread (the tee's reader), so bars and lines
never interleave: a line clears the bar, is written, and the bar is drawn again. One bar is drawn
at a time (the newest open one); bars are cleared when they close (the node's end line carries the
figure) and their last state goes to the log. Without a terminal (a CI log, a file) no bar is
drawn at all.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable
from typing import IO, Any

from tfx_dcgan.console.noise import LineFilter

__all__ = ["BarState", "View", "describe_bar", "visible_lines"]

# CSI (cursor moves, colours, erase) and OSC (window titles) escape sequences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def visible_lines(transcript: str) -> list[str]:
    """The lines a terminal shows for `transcript` (what a pseudo-terminal read): ANSI escape
    codes dropped, a carriage return going back to the start of the line so that a bar's
    refreshes overwrite each other (one line), trailing blank lines dropped."""
    text = _ANSI.sub("", transcript).replace("\r\n", "\n")
    lines = []
    for raw in text.split("\n"):
        cells: list[str] = []
        column = 0
        for char in raw:
            if char == "\r":
                column = 0
            elif char == "\b":
                column = max(0, column - 1)
            elif char >= " " or char == "\t":
                if column < len(cells):
                    cells[column] = char
                else:
                    cells.append(char)
                column += 1
        lines.append("".join(cells).rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return lines


@dataclasses.dataclass
class BarState:
    """One progress task as the console knows it (whatever draws it)."""

    desc: str
    total: int
    unit: str
    n: int = 0
    postfix: dict[str, Any] = dataclasses.field(default_factory=dict)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    started: float = dataclasses.field(default_factory=time.monotonic)

    def apply(self, event: dict[str, Any]) -> None:
        """Applies a `set` or `add` event (see tfx_dcgan.progress)."""
        if event["e"] == "set":
            self.n = int(event.get("n", self.n))
            self.postfix.update(event.get("post") or {})
        else:
            self.n += int(event.get("n", 0))
            for key, value in (event.get("post") or {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.counts[key] = self.counts.get(key, 0) + int(value)
                else:
                    self.postfix[key] = value

    def shown_postfix(self) -> dict[str, Any]:
        return {**self.postfix, **self.counts}


def describe_bar(state: BarState, seconds: float) -> str:
    """A finished bar as one log line: `training: 2000/2000 step in 241.3 s (8.3 step/s), ...`."""
    total = f"/{state.total}" if state.total else ""
    rate = f" ({state.n / seconds:.1f} {state.unit}/s)" if seconds > 0 and state.n else ""
    extra = ", ".join(f"{key}={value}" for key, value in state.shown_postfix().items())
    return f"{state.desc}: {state.n}{total} {state.unit} in {seconds:.1f} s{rate}" + (
        f", {extra}" if extra else ""
    )


def _terminal_width(stream: IO[str], fallback: int = 100) -> int:
    """The terminal's width in columns (`fallback` when it reports none, as a fresh pty does)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return columns if columns > 0 else fallback


class View:
    """Renders one run's console; fed by the tee's reader thread."""

    def __init__(
        self,
        out: IO[str],
        err: IO[str],
        log: Callable[[str], None],
        *,
        show_all: bool = False,
        bars: bool = True,
    ) -> None:
        """Args:
        out, err: the real terminal's stdout and stderr (text).
        log: writes one line to the log file.
        show_all: every log line reaches the terminal (--verbosity).
        bars: draw live bars (only on a terminal).
        """
        self._streams = {1: out, 2: err}
        self._filters = {1: LineFilter(show_all), 2: LineFilter(show_all)}
        self._log = log
        self._bars_enabled = bars
        self._states: dict[str, BarState] = {}
        self._order: list[str] = []  # open tasks, oldest first; the last one is drawn
        self._drawn: tuple[str, Any] | None = None  # (task id, tqdm instance)

    # Lines -----------------------------------------------------------------------------------
    def line(self, fd: int, text: str) -> None:
        """A line the process wrote to `fd` (already in the log): shown if the filter says so."""
        if self._filters[fd].show(text):
            self._write(fd, text)

    def say(self, text: str) -> None:
        """A console line of the run itself (a node starting or ending): always shown, logged."""
        self._log(text)
        self._write(1, text)

    def _write(self, fd: int, text: str) -> None:
        bar = self._drawn[1] if self._drawn else None
        if bar is not None:
            bar.clear()
        stream = self._streams[fd]
        try:
            stream.write(text + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # the terminal went away: the log still has everything
        if bar is not None:
            bar.refresh()

    # Bars ------------------------------------------------------------------------------------
    def event(self, event: dict[str, Any]) -> None:
        """Applies a progress event (tfx_dcgan.progress) to the bars."""
        kind, task_id = event.get("e"), str(event.get("id", ""))
        if kind == "say":
            self.say(str(event.get("text", "")))
        elif kind == "open":
            self._close(task_id)
            self._states[task_id] = BarState(
                desc=str(event.get("desc", task_id)),
                total=int(event.get("total") or 0),
                unit=str(event.get("unit", "it")),
                n=int(event.get("n") or 0),
            )
            self._order.append(task_id)
            self._redraw()
        elif kind in ("set", "add") and task_id in self._states:
            self._states[task_id].apply(event)
            self._update_drawn(task_id)
        elif kind == "close":
            self._close(task_id)
            self._redraw()

    def close(self) -> None:
        """Closes every bar (the end of the run)."""
        for task_id in list(self._order):
            self._close(task_id)

    def _close(self, task_id: str) -> None:
        state = self._states.pop(task_id, None)
        if state is None:
            return
        self._order.remove(task_id)
        if self._drawn and self._drawn[0] == task_id:
            self._drawn[1].close()
            self._drawn = None
        self._log(describe_bar(state, time.monotonic() - state.started))

    def _redraw(self) -> None:
        """Draws the newest open task (one bar at a time keeps every refresh on one line)."""
        if not self._bars_enabled:
            return
        wanted = self._order[-1] if self._order else None
        if self._drawn and self._drawn[0] == wanted:
            return
        if self._drawn:
            self._drawn[1].close()
            self._drawn = None
        if wanted is None:
            return
        from tqdm import tqdm

        state = self._states[wanted]
        bar = tqdm(
            total=state.total or None,
            initial=state.n,
            desc=state.desc,
            unit=state.unit,
            file=self._streams[1],
            leave=False,
            ncols=_terminal_width(self._streams[1]),
            mininterval=0.2,
            smoothing=0.1,
        )
        self._drawn = (wanted, bar)
        self._update_drawn(wanted)

    def _update_drawn(self, task_id: str) -> None:
        if not self._drawn or self._drawn[0] != task_id:
            return
        bar, state = self._drawn[1], self._states[task_id]
        postfix = state.shown_postfix()
        if postfix:
            bar.set_postfix(postfix, refresh=False)
        bar.update(state.n - bar.n)
