"""The Evaluation pane: what was evaluated at the prompt during this run, newest last (scrollable).

A tensor is shown as a Tensors-pane row and then as the Inspector shows it; any other value as its repr, cut
to the pane; an error as the exception; a runaway evaluation as stopped.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, chop_cells
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tensorscope.model import Evaluation, TensorView
from tensorscope.tui.inspector import tensor_content
from tensorscope.tui.words import words

MAX_LINES = 12
"""A value's repr is cut to this many lines (and each line to the pane's width)."""


def cut(text: str, width: int, lines: int = MAX_LINES) -> str:
    """`text` cut to `lines` lines of at most `width` terminal cells, an ellipsis where it was cut."""
    rows = text.splitlines() or [""]
    out = []
    for row in rows[:lines]:
        fits = width <= 0 or cell_len(row) <= width
        out.append(row if fits else chop_cells(row, max(1, width - 1))[0] + "…")
    if len(rows) > lines:
        out.append("…")
    return "\n".join(out)


_SECONDS = re.compile(r"(\d+(?:\.\d+)?) s\b")


def stopped_text(ev: Evaluation, lang: str = "en") -> str:
    """Why an evaluation gave no value though it was not an error: stopped at its time limit, or refused."""
    w = words(lang)
    if ev.kind == "refused":
        return w["eval_refused"]
    found = _SECONDS.search(ev.text)
    return w["eval_timeout"].format(seconds=found.group(1)) if found else w["eval_timeout_plain"]


def tensor_row(t: TensorView, simulated: bool = False, lang: str = "en") -> str:
    """The tensor in one line, as the Tensors pane lists it: name, shape, dtype, device, grad."""
    w = words(lang)
    device = f"{t.device} ({w['simulated']})" if simulated and t.device.startswith("cuda") else t.device
    grad = t.grad_fn or ("requires_grad" if t.requires_grad else "")
    return "  ".join(part for part in (t.name, t.shape_text, t.dtype, device, grad) if part)


def evaluation_content(ev: Evaluation, lang: str = "en", width: int = 0, simulated: bool = False) -> Content:
    """One evaluation: what was typed, then what it gave."""
    w = words(lang)
    parts: list[str | tuple[str, str] | Content] = [
        (f"› {ev.source}", "bold $text-accent"),
        (f"   {w['eval_at'].format(step=ev.step)}", "$text-muted"), "\n",
    ]
    if ev.output:
        parts += [(cut(ev.output.rstrip("\n"), width), "$text-muted"), "\n"]
    if ev.kind == "tensor" and ev.tensor is not None:
        parts += [(cut(tensor_row(ev.tensor, simulated, lang), width, 1), "bold"), "\n",
                  tensor_content(ev.tensor, lang, simulated), "\n"]
    elif ev.kind == "value":
        parts += [cut(ev.text, width), "\n"]
    elif ev.kind == "statement":
        parts += [(w["eval_ran"], "$text-success"), "\n"]
    elif ev.kind == "error":
        parts += [(cut(f"✖ {ev.text}", width), "bold $text-error"), "\n"]
    else:  # stopped at its time limit, or refused
        parts += [(cut(stopped_text(ev, lang), width), "bold $text-warning"), "\n"]
    return Content.assemble(*parts)


class EvaluationPane(VerticalScroll):
    """The evaluations of this run (or those recorded up to the replayed step), the newest at the bottom."""

    DEFAULT_CSS = """
    EvaluationPane > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: list[Evaluation] = []
        """The evaluations on display, oldest first."""
        self.waiting: list[str] = []
        """What was sent and is not answered yet (the script runs: answered at its next pause)."""
        self.text = ""
        """What the pane shows, as plain text."""
        self._drawn: tuple[object, ...] = ()
        self._simulated = False

    def compose(self) -> ComposeResult:
        yield Static(id="evaluation-body")

    def on_resize(self) -> None:
        """Cut to the new width (the pane is laid out when it first shows)."""
        if self._drawn:
            evaluations, waiting, lang, _ = self._drawn
            self.show(evaluations, waiting, lang, self._simulated)  # type: ignore[arg-type]

    def show(self, evaluations: list[Evaluation], waiting: list[str], lang: str,
             simulated: bool = False) -> None:
        """Draw `evaluations` and the `waiting` sources; scroll to the newest."""
        body = self.query_one("#evaluation-body", Static)
        width = body.content_size.width or max(0, self.scrollable_content_region.width - 1)
        drawn = (list(evaluations), list(waiting), lang, width)
        if drawn == self._drawn:
            return
        grew = len(evaluations) + len(waiting) > len(self.shown) + len(self.waiting)
        self.shown, self.waiting = list(evaluations), list(waiting)
        self._drawn = drawn
        self._simulated = simulated
        w = words(lang)
        parts: list[str | tuple[str, str] | Content] = []
        for ev in evaluations:
            parts += [evaluation_content(ev, lang, width, simulated), "\n"]
        for source in waiting:
            parts += [(f"› {source}", "bold $text-accent"), "\n", (w["eval_waiting"], "$text-muted"), "\n\n"]
        if not parts:
            parts.append((w["eval_none"], "$text-muted"))
        content = Content.assemble(*parts)
        self.text = content.plain
        body.update(content)
        if grew:  # the newest evaluation comes into view
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
