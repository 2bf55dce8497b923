"""The evaluation prompt (`:`): one line above the footer, as vim's command line.

Enter sends what was typed, ↑/↓ walk what was typed before (kept for as long as the app runs, across
restarts), Tab asks for the names in scope that complete the word at the cursor, Esc closes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")


def word_before(text: str) -> str:
    """The dotted name that ends `text` (what Tab completes), or empty."""
    found = _WORD.search(text)
    return found.group(0) if found else ""


def common_prefix(names: tuple[str, ...]) -> str:
    """The longest prefix all `names` share."""
    if not names:
        return ""
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


class PromptInput(Input):
    """The prompt's text field: ↑/↓ history, Tab completion, Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "previous", show=False),
        Binding("down", "history(1)", "next", show=False),
        Binding("tab", "complete", "complete"),
        Binding("escape", "close", "close"),
    ]

    def action_history(self, delta: int) -> None:
        prompt = self.parent
        if isinstance(prompt, EvalPrompt):
            prompt.walk(delta)

    def action_complete(self) -> None:
        prompt = self.parent
        if isinstance(prompt, EvalPrompt):
            prompt.post_message(EvalPrompt.Complete(word_before(self.value[:self.cursor_position])))

    def action_close(self) -> None:
        prompt = self.parent
        if isinstance(prompt, EvalPrompt):
            prompt.close()


class EvalPrompt(Horizontal):
    """`:` and a text field; says so while the script runs (what is typed waits for the next pause)."""

    DEFAULT_CSS = """
    EvalPrompt { height: 1; display: none; background: $panel; }
    EvalPrompt.-open { display: block; }
    EvalPrompt > Static { width: auto; padding: 0 0 0 1; color: $text-accent; text-style: bold; }
    EvalPrompt > Input { border: none; height: 1; padding: 0 1; background: $panel; width: 1fr; }
    EvalPrompt > Input:focus { border: none; background: $panel; }
    """

    @dataclass
    class Submitted(Message):
        """Enter: `text` is to be evaluated (or is a prompt command: watch, unwatch, watches, save)."""

        text: str

    @dataclass
    class Complete(Message):
        """Tab: complete `prefix` (the dotted name before the cursor)."""

        prefix: str

    class Closed(Message):
        """Esc: the prompt closed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history: list[str] = []
        """What was entered, oldest first (kept across restarts of the script)."""
        self._pos = 0
        self._draft = ""

    def compose(self) -> ComposeResult:
        yield Static(":", id="prompt-label")
        yield PromptInput(id="prompt-input", select_on_focus=False)

    @property
    def input(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, text: str = "", placeholder: str = "") -> None:
        """Show the prompt with `text` in it, the cursor at its end, and focus it."""
        self.add_class("-open")
        field = self.input
        field.placeholder = placeholder
        field.value = text
        field.cursor_position = len(text)
        self._pos = len(self.history)
        field.focus()

    def close(self) -> None:
        """Hide the prompt (what was typed and not entered is let go)."""
        if self.is_open:
            self.remove_class("-open")
            self.input.value = ""
            self.post_message(self.Closed())

    def set_label(self, label: str) -> None:
        """What stands before the field: `:`, or that the script runs and this waits for its next pause."""
        self.query_one("#prompt-label", Static).update(label)

    def fill(self, text: str) -> None:
        """Replace what was typed with `text`, the cursor at its end."""
        self.input.value = text
        self.input.cursor_position = len(text)

    def walk(self, delta: int) -> None:
        """↑ (-1) and ↓ (+1) through the history; below the newest entry: what was being typed."""
        if not self.history:
            return
        if self._pos == len(self.history):
            self._draft = self.input.value
        pos = max(0, min(len(self.history), self._pos + delta))
        if pos == self._pos:
            return
        self._pos = pos
        self.fill(self.history[pos] if pos < len(self.history) else self._draft)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.input.value = ""
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._pos = len(self.history)
        if text:
            self.post_message(self.Submitted(text))
