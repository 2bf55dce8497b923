"""The help screen: every key, and what the marks in the panes mean."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tensorscope import i18n
from tensorscope.i18n import LANGS
from tensorscope.tui.closable import ClosableScreen
from tensorscope.tui.words import words
from tensorscope.tui.wrap import CellWrapped

_MARK_STYLES: list[tuple[str, str]] = [
    ("▶", "$text-accent"), ("✓", "$text-success"), ("✖", "$text-error"), ("●", "$text-error"),
    ("▒", "$text-warning"), ("▒", "$text-warning"),
]
"""The marks the help explains, in the order of `help.marks` in the language files."""

KEYS: dict[str, list[tuple[str, str]]] = {
    lang: [(key, text) for key, text in i18n.table(lang, "help")["keys"]] for lang in LANGS
}
"""Per language: (key, what it does), from table `help` of tensorscope/i18n/*.toml."""

MARKS: dict[str, list[tuple[str, str, str]]] = {
    lang: [(mark, style, text) for (mark, style), text in zip(_MARK_STYLES, i18n.table(lang, "help")["marks"],
                                                              strict=True)]
    for lang in LANGS
}
"""Per language: (mark, style, what it means)."""


def _right(text: str, cells: int) -> str:
    """`text` right-aligned in `cells` terminal cells (a CJK character takes two)."""
    return " " * max(0, cells - cell_len(text)) + text


def help_content(lang: str, about: str = "") -> Content:
    """Keys, marks, and `about` (the script's docstring) under its own heading."""
    parts: list[str | tuple[str, str]] = []
    for key, text in i18n.table(lang, "help")["keys"]:
        parts += [(f"{_right(key, 9)}  ", "bold $text-accent"), text, "\n"]
    parts.append("\n")
    for (mark, style), text in zip(_MARK_STYLES, i18n.table(lang, "help")["marks"], strict=True):
        parts += [(f"{_right(mark, 9)}  ", f"bold {style}"), text, "\n"]
    if about:
        parts += ["\n", (words(lang)["about"], "bold $text-accent"), "\n", about, "\n"]
    return Content.assemble(*parts)


class HelpScreen(ClosableScreen[None]):
    """Keys and marks; any of escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, lang: str = "en", about: str = "") -> None:
        super().__init__(lang)
        self.about = about
        """The script's docstring: what to watch in this scenario."""

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = words(self.lang)["help_title"]
            scroll.border_subtitle = words(self.lang)["help_close"]
            yield Static(CellWrapped(help_content(self.lang, self.about), hang=11))
