"""The "what just happened" line: the last step's changes in one or two plain sentences."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tensorscope.diff import is_yield, narrate
from tensorscope.tui.flags import SEVERITY_MARK
from tensorscope.tui.history import History
from tensorscope.tui.words import words
from tensorscope.tui.wrap import CellWrapped, wrap_spans

LINES = 2
"""The narration's height: what is said must fit in it, whole sentences only."""


def narration_content(sentences: list[str], lang: str = "en", limit: int = 3, width: int = 0) -> Content:
    """`✎ what just happened: s1; s2`, or `s1; 3 more changes (see Tensors)` when not all fit.

    Whole sentences only: at most `limit` of them, and when `width` is known as many as fit in `LINES`
    lines of that many cells; the rest are counted in a last sentence, never dropped silently.
    """
    said = list(dict.fromkeys(sentences))  # (the same sentence twice says nothing new)
    content = _assemble(said[:limit], len(said) - limit, lang)
    for k in range(min(limit, len(said)), 0, -1):
        content = _assemble(said[:k], len(said) - k, lang)
        if width <= 0 or len(wrap_spans(content.plain, width)) <= LINES:
            break
    return content


def _assemble(shown: list[str], left: int, lang: str) -> Content:
    w = words(lang)
    if left > 0:
        shown = [*shown, w["more_changes" if left > 1 else "more_change"].format(n=left)]
    sep, colon = w["list_sep"], w["colon"]
    return Content.assemble(
        ("✎ ", "bold $text-accent"), (f"{w['happened']}{colon}", "$text-muted"), sep.join(shown)
    )


def intro_content(about: str, hint: str, width: int = 0) -> Content:
    """Before the first line: what the script is about (its docstring's first line), then the keys; when
    the summary needs both lines, all of it and no hint (the footer shows the keys): never cut."""
    about_line = Content.assemble(("✎ ", "bold $text-accent"), (about, "bold"))
    if width > 4 and len(wrap_spans(about_line.plain, width)) > 1:
        return about_line
    return Content.assemble(about_line, "\n", (hint, "$text-muted"))


class Narration(Static):
    """Plain sentences about the step just taken: the debugger as a teacher."""

    DEFAULT_CSS = """
    Narration { height: 2; padding: 0 1; background: $boost; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.sentences: list[str] = []

    def show_step(self, history: History, ran: str, lang: str, about: str = "") -> None:
        """Narrate the Step on screen against the pause before it (`ran`: the line just executed;
        `about`: what the script is about, shown before its first line)."""
        step = history.current
        if step is None:
            return
        w = words(lang)
        if history.index == 0 and step.event == "line":
            if about:
                self.sentences = [about, w["start"]]
                intro = intro_content(about, w["start"], self.content_size.width)
                self.update(CellWrapped(intro), layout=False)
            else:
                self.show([w["start"]], lang)
            return
        sentences = narrate(history.previous(), step, lang, baseline=history.baseline(), ran=ran)
        if step.event == "return":
            key = "yield_at" if is_yield(step) else "return_at"
            sentences.insert(0, w[key].format(function=step.function))
        if step.exception is None:  # an exception's sentence already says it all
            serious = {(f.code, f.line): f for f in step.flags if f.severity != "info"}  # each named once
            sentences[:0] = [w["flagged"].format(mark=SEVERITY_MARK[f.severity], code=f.code, line=f.line)
                             for f in list(serious.values())[:2]]
        self.show(sentences, lang)

    def show(self, sentences: list[str], lang: str) -> None:
        self.sentences = sentences
        content = narration_content(sentences, lang, width=self.content_size.width)
        self.update(CellWrapped(content), layout=False)  # fixed height: no layout pass
