"""The Output pane: what the script printed (escape codes shown, never obeyed), lines wrapped to the pane.

The loss curve is not here: `p` opens it full size (`tensorscope/tui/plot.py`), so the text has the whole
width of the pane.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Log

from tensorscope.report import shown_safely

MAX_LINES = 2000
TAB = 8


def printable(text: str) -> str:
    """Script output made safe to show, line by line as `check` prints it (`report.shown_safely`): a
    carriage return overwrites its line as on a terminal, ESC shows as ␛, other control characters as their
    caret form, so nothing is interpreted."""
    return "\n".join(shown_safely(line) for line in text.replace("\r\n", "\n").split("\n"))


def wrap(text: str, width: int) -> str:
    """`text` (already printable) with every line folded to at most `width` cells (words kept whole when
    they fit; wide characters count twice). Nothing is cut."""
    if width < 1:
        return text
    out = []
    for line in text.split("\n"):
        line = line.expandtabs(TAB)
        if len(line) <= width // 2 or Content(line).cell_length <= width:
            out.append(line)
        else:
            out.extend(part.plain for part in Content(line).wrap(width))
    return "\n".join(out)


def _tail(text: str) -> str:
    """The last MAX_LINES lines (the Log keeps no more, and writing more costs time)."""
    if text.count("\n") <= MAX_LINES:
        return text
    return "\n".join(text.split("\n")[-(MAX_LINES + 1):])


class OutputPane(Vertical):
    """The script's stdout so far, wrapped to the pane's width (rewrapped when it changes)."""

    DEFAULT_CSS = """
    OutputPane > Log { width: 1fr; padding: 0 0 0 1; overflow-x: hidden; overflow-y: auto;
                       scrollbar-size: 1 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = ""
        """The raw output currently shown."""
        self._width = 0
        """The width the shown lines are wrapped to (0: not laid out yet)."""

    def compose(self) -> ComposeResult:
        yield Log(id="output-log", max_lines=MAX_LINES, auto_scroll=True)

    def _wrap_width(self) -> int:
        """Cells a line may take: the Log's content width less its scrollbar's column."""
        return max(0, self.query_one(Log).size.width - 1)

    def show(self, text: str) -> None:
        """Show everything printed up to the Step on screen (appends when it only grew)."""
        if text == self.text:
            return
        log = self.query_one(Log)
        width = self._width = self._wrap_width()
        if text.startswith(self.text) and self.text.endswith("\n"):
            log.write(wrap(printable(_tail(text[len(self.text):])), width))
        else:
            log.clear()
            log.write(wrap(printable(_tail(text)), width))
        self.text = text
        log.scroll_end(animate=False, immediate=False)  # (once the new lines are laid out)

    def on_resize(self) -> None:
        """Wrap again at the new width."""
        width = self._wrap_width()
        if width != self._width and self.text:
            self._width = width
            log = self.query_one(Log)
            log.clear()
            log.write(wrap(printable(_tail(self.text)), width))
            log.scroll_end(animate=False, immediate=False)
