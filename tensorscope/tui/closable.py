"""A modal screen shown in the user's language, its footer naming the keys that close it in that language."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import ActiveBinding
from textual.screen import ModalScreen

from tensorscope.tui.keys import closing_bindings
from tensorscope.tui.words import words

ResultT = TypeVar("ResultT")


class ClosableScreen(ModalScreen[ResultT]):
    """The base of the help, condition and data-breakpoint screens: `lang`, and the footer's `close`."""

    def __init__(self, lang: str = "en") -> None:
        super().__init__()
        self.lang = lang

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The footer's keys, `close` in the chosen language (Textual's public property the Footer reads)."""
        return closing_bindings(super().active_bindings, words(self.lang)["k_close"])
