"""A modal screen shown in the user's language, its keys described in that language."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import ActiveBinding
from textual.screen import ModalScreen

from tensorscope.tui.keys import described_bindings
from tensorscope.tui.words import key_words

ResultT = TypeVar("ResultT")


class ClosableScreen(ModalScreen[ResultT]):
    """The base of the help, condition and data-breakpoint screens: `lang`, and the footer's `close`."""

    def __init__(self, lang: str = "en") -> None:
        super().__init__()
        self.lang = lang

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The screen's keys described in the chosen language (Textual's public property the Footer reads)."""
        return described_bindings(super().active_bindings, key_words(self.lang))
