"""The `▶ code` row under the status bar: the line about to run, in full, with its file:line and function.

However narrow the Source pane, this row says which line runs next: it wraps (two or three rows for a long
line), it is never cut. Hidden before the first step and once the script has ended.
"""

from __future__ import annotations

from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Static

from tensorscope.model import Step
from tensorscope.sourcetext import strip_comment
from tensorscope.tui.words import words

MARKS = {"line": "▶", "return": "▶", "exception": "✖"}
"""The mark of each kind of Step the row is shown for (as in the Source pane)."""


def short_path(file: str, limit: int = 32) -> str:
    """`file` as shown, or `…/name` when it is longer than `limit` (the Source pane's title has it all)."""
    name = file.replace("\\", "/").rsplit("/", 1)[-1]
    return file if len(file) <= limit or name == file else f"…/{name}"


def next_line_content(step: Step, code: str, lang: str = "en") -> Content:
    """`▶ w -= lr * w.grad   linreg.py:31 · <module>` (✖ where the script raised), the code highlighted,
    without its trailing comment."""
    w = words(lang)
    mark = MARKS.get(step.event, "▶")
    style = "bold $text-error" if mark == "✖" else "bold $text-accent"
    label = w["next_row_raised" if mark == "✖" else "next_row"]
    where = w["next_row_where"].format(file=short_path(step.file), line=step.line, function=step.function)
    colon = w["colon"]
    code = strip_comment(code).strip() or code.strip()  # (the code that runs: a trailing comment waits)
    body = highlight(code, language="python") if code else Content("")
    return Content.assemble((f"{mark} ", style), (f"{label}{colon}", "$text-muted"), body,
                            ("   ", ""), (where, "$text-muted"))


class NextLine(Static):
    """The line about to run (or where the script raised), whole: it soft-wraps, it is never cut."""

    DEFAULT_CSS = """
    NextLine { height: auto; background: $boost; padding: 0 1; display: none; }
    NextLine.-shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.text = ""
        """What the row says now, as plain text ("" while hidden)."""
        self._height = -1

    def show_step(self, step: Step | None, code: str, lang: str = "en") -> None:
        """Show `step`'s next line (`code`: its source text); hide the row when there is none."""
        if step is None or step.event not in MARKS:
            self.text = ""
            self.remove_class("-shown")
            return
        content = next_line_content(step, code, lang)
        if content.plain == self.text and self.has_class("-shown"):
            return
        self.text = content.plain
        width = self.content_size.width
        height = content.get_height(self.styles, width) if width else -1
        # a layout pass (every pane moves) only when the row's height changes: not at every step
        self.update(content, layout=height != self._height or height < 0)
        self._height = height
        self.add_class("-shown")
