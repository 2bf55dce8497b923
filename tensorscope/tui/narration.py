"""The "what just happened" line: the last step's changes in one or two plain sentences."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tensorscope.diff import is_yield, narrate
from tensorscope.tui.flags import SEVERITY_MARK
from tensorscope.tui.history import History
from tensorscope.tui.words import words


def narration_content(sentences: list[str], lang: str = "en", limit: int = 3) -> Content:
    """`✎ what just happened: s1; s2`."""
    w = words(lang)
    shown = sentences[:limit]
    sep = "；" if lang == "zh" else "; "
    return Content.assemble(
        ("✎ ", "bold $text-accent"), (f"{w['happened']}: ", "$text-muted"), sep.join(shown)
    )


def intro_content(about: str, hint: str, width: int = 0) -> Content:
    """Before the first line: what the script is about (its docstring's first line), then the keys."""
    if width > 4 and len(about) > width - 2:  # one line for each, so the keys stay in view
        about = about[: width - 3] + "…"
    return Content.assemble(("✎ ", "bold $text-accent"), (about, "bold"), "\n", (hint, "$text-muted"))


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
                self.update(intro_content(about, w["start"], self.content_size.width), layout=False)
            else:
                self.show([w["start"]], lang)
            return
        sentences = narrate(history.previous(), step, lang, baseline=history.baseline(), ran=ran)
        if step.event == "return":
            key = "yield_at" if is_yield(step) else "return_at"
            sentences.insert(0, w[key].format(function=step.function))
        if step.exception is None:  # an exception's sentence already says it all
            serious = [f for f in step.flags if f.severity != "info"]
            sentences[:0] = [w["flagged"].format(mark=SEVERITY_MARK[f.severity], code=f.code, line=f.line)
                             for f in serious[:2]]
        self.show(sentences, lang)

    def show(self, sentences: list[str], lang: str) -> None:
        self.sentences = sentences
        self.update(narration_content(sentences, lang), layout=False)  # fixed height: no layout pass
