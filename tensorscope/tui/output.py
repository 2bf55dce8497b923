"""The Output pane: what the script printed (escape codes shown, never obeyed) and a loss sparkline."""

from __future__ import annotations

import math
import re

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Log, Static

BARS = "▁▂▃▄▅▆▇█"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_LINES = 2000


def printable(text: str) -> str:
    """Script output made safe to show: a carriage return overwrites its line as on a terminal, ESC
    shows as ␛ and other control characters as their caret form, so nothing is interpreted."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if "\r" in line:
            line = line.rstrip("\r").rsplit("\r", 1)[-1]
        lines.append(line)
    joined = "\n".join(lines).replace("\x1b", "␛")
    return _CONTROL.sub(lambda m: "^" + chr(ord(m.group()) ^ 0x40), joined)


def sparkline(values: list[float], width: int) -> str:
    """The last `width` values as bars; log scale when they span orders of magnitude."""
    points = [v for v in values[-width:] if math.isfinite(v)] if width > 0 else []
    if not points:
        return ""
    if min(points) > 0 and max(points) / min(points) > 100:
        points = [math.log10(v) for v in points]
    lo, hi = min(points), max(points)
    if hi == lo:
        return BARS[3] * len(points)
    scale = (len(BARS) - 1) / (hi - lo)
    return "".join(BARS[round((v - lo) * scale)] for v in points)


def _tail(text: str) -> str:
    """The last MAX_LINES lines (the Log keeps no more, and writing more costs time)."""
    if text.count("\n") <= MAX_LINES:
        return text
    return "\n".join(text.split("\n")[-(MAX_LINES + 1):])


def _number(v: float) -> str:
    return f"{v:.4g}"


class OutputPane(Horizontal):
    """The script's stdout so far, and the loss curve beside it."""

    DEFAULT_CSS = """
    OutputPane > Log { width: 1fr; padding: 0 0 0 1; overflow: auto; scrollbar-size: 1 1; }
    OutputPane > #loss { width: 24; padding: 0 1; }
    OutputPane > #loss > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = ""
        """The raw output currently shown."""
        self.losses: list[float] = []

    def compose(self) -> ComposeResult:
        yield Log(id="output-log", max_lines=MAX_LINES, auto_scroll=True)
        with Vertical(id="loss"):
            yield Static(id="loss-label")
            yield Static(id="loss-spark")

    def show(self, text: str, losses: list[float]) -> None:
        """Show everything printed up to the Step on screen (appends when it only grew)."""
        log = self.query_one(Log)
        if text != self.text:
            if text.startswith(self.text) and self.text.endswith("\n"):
                log.write(printable(_tail(text[len(self.text):])))
            else:
                log.clear()
                log.write(printable(_tail(text)))
            self.text = text
        if losses != self.losses:
            self.losses = list(losses)
            self._show_losses()

    def on_resize(self) -> None:
        self._show_losses()

    def _show_losses(self) -> None:
        label = self.query_one("#loss-label", Static)
        spark = self.query_one("#loss-spark", Static)
        values = self.losses
        if not values:
            label.update("")
            spark.update("")
            return
        first, last = values[0], values[-1]
        text = f"loss {_number(last)}" if len(values) == 1 else f"loss {_number(first)} → {_number(last)}"
        style = "$text-error" if not math.isfinite(last) else "$text-muted"
        label.update(Content.styled(text, style))
        width = max(1, self.query_one("#loss").content_size.width or 20)
        spark.update(Content.styled(sparkline(values, width), "$text-accent"))
