"""The Flags pane: every flag raised so far, newest first; choosing one shows its explanation."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tensorscope.explain.catalogue import flag_text
from tensorscope.model import Flag
from tensorscope.tui.words import words

SEVERITY_MARK = {"error": "✖", "warning": "⚠", "info": "ℹ"}
SEVERITY_STYLE = {"error": "bold $text-error", "warning": "bold $text-warning", "info": "$text-primary"}


def flag_prompt(flag: Flag, lang: str = "en") -> Content:
    """One line: mark, line, code, message (in `lang`, rendered from the flag's code and data)."""
    where = f"{flag.file}:{flag.line}" if flag.file else words(lang)["line_n"].format(line=flag.line)
    message = flag_text(flag, lang).message
    return Content.assemble(
        (f"{SEVERITY_MARK.get(flag.severity, '!')} ", SEVERITY_STYLE.get(flag.severity, "")),
        (f"{where:<8} ", "$text-muted"),
        (flag.code, SEVERITY_STYLE.get(flag.severity, "")),
        " — ",
        message,
    )


class FlagList(OptionList):
    """Flags raised up to the Step on screen (newest first)."""

    @dataclass
    class Chosen(Message):
        """The user picked a flag to read its explanation."""

        flag: Flag

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.flags: list[Flag] = []
        self._key: tuple[int, ...] | None = None
        self._lang = "en"

    def show(self, flags: list[tuple[int, Flag]], lang: str) -> None:
        """Show (step position, flag) pairs, given newest first."""
        key = tuple(id(f) for _, f in flags)
        if key == self._key and lang == self._lang:
            return
        self._key, self._lang = key, lang
        self.flags = [f for _, f in flags]
        highlighted = self.highlighted
        if self.flags:
            options = [Option(flag_prompt(f, lang), id=f"{pos}-{i}") for i, (pos, f) in enumerate(flags)]
            self.set_options(options)
            self.highlighted = 0 if highlighted is None else min(highlighted, len(self.flags) - 1)
        else:
            self.set_options([Option(Content.styled(words(lang)["no_flags"], "$text-muted"), disabled=True)])

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option_index)

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if self.has_focus:
            self._choose(event.option_index)

    def _choose(self, index: int) -> None:
        if 0 <= index < len(self.flags):
            self.post_message(self.Chosen(self.flags[index]))
