"""The Watches section: the pinned expressions (`:watch EXPR`), as evaluated at the pause on screen."""

from __future__ import annotations

from rich.cells import cell_len, chop_cells
from textual.content import Content
from textual.widgets import Static

from tensorscope.model import Evaluation
from tensorscope.tui.evaluation import stopped_text, tensor_row
from tensorscope.tui.words import words


def _one_line(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if width <= 0 or cell_len(line) <= width else chop_cells(line, max(1, width - 1))[0] + "…"


def watch_content(exprs: list[str], values: tuple[Evaluation, ...], lang: str = "en", width: int = 0,
                  simulated: bool = False) -> Content:
    """One row per watch: `1 w.grad.norm() = tensor(0.25)`, an error in red, `…` before its first pause."""
    w = words(lang)
    by_source = {ev.source: ev for ev in values}
    parts: list[str | tuple[str, str]] = []
    for n, expr in enumerate(exprs, start=1):
        ev = by_source.get(expr)
        head = f"{n} {expr} = "
        room = width - cell_len(head)
        parts.append((head, "bold $text-accent"))
        if ev is None:
            parts.append((w["watch_pending"], "$text-muted"))
        elif ev.kind == "tensor" and ev.tensor is not None:
            t = ev.tensor
            one_line = t.preview is not None and "\n" not in t.preview
            value = t.preview if one_line and t.preview is not None else tensor_row(t, simulated, lang)
            parts.append(_one_line(value, room))
        elif ev.kind == "error":
            parts.append((_one_line(f"✖ {ev.text}", room), "$text-error"))
        elif ev.kind in ("timeout", "refused"):
            parts.append((_one_line(stopped_text(ev, lang), room), "$text-warning"))
        else:
            parts.append(_one_line(ev.text, room))
        parts.append("\n")
    if parts:
        parts.pop()
    return Content.assemble(*parts)


class WatchList(Static):
    """The watches (hidden while there are none)."""

    DEFAULT_CSS = """
    WatchList { height: auto; max-height: 8; display: none; text-wrap: nowrap; }
    WatchList.-some { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = ""
        """What the section shows, as plain text."""
        self._args: tuple[list[str], tuple[Evaluation, ...], str, bool] | None = None

    def show(self, exprs: list[str], values: tuple[Evaluation, ...], lang: str,
             simulated: bool = False) -> None:
        """Draw the watches `exprs` with their `values` at the pause on screen."""
        self._args = (exprs, values, lang, simulated)
        self.set_class(bool(exprs), "-some")
        width = self.scrollable_content_region.width or self.size.width
        content = watch_content(exprs, values, lang, width, simulated)
        self.text = content.plain
        self.update(content)

    def on_resize(self) -> None:
        """Cut the rows to the new width."""
        if self._args is not None:
            self.show(*self._args)
