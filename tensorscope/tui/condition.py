"""The condition prompt `b` opens: a breakpoint that pauses only when an expression is true."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from tensorscope.tui.closable import ClosableScreen
from tensorscope.tui.words import words


def condition_error(text: str, lang: str = "en") -> str | None:
    """Why `text` cannot be a condition (not a Python expression), in `lang`; None when it can."""
    try:
        compile(text, "<condition>", "eval")
    except SyntaxError as exc:
        return words(lang)["cond_bad"].format(msg=exc.msg)
    except ValueError as exc:  # (a NUL character)
        return words(lang)["cond_bad"].format(msg=str(exc))
    return None


class ConditionScreen(ClosableScreen[str | None]):
    """Asks for a breakpoint's condition. Dismissed with the condition, "" (Enter on nothing: a plain
    breakpoint) or None (Esc: no breakpoint)."""

    DEFAULT_CSS = """
    ConditionScreen { align: center bottom; }
    ConditionScreen > Vertical {
        width: 80; max-width: 100%; height: auto; border: thick $accent; background: $surface;
        padding: 0 1; margin-bottom: 2;
    }
    ConditionScreen #cond-error { color: $text-error; height: auto; }
    ConditionScreen #cond-help { color: $text-muted; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, line: int, lang: str = "en", condition: str = "") -> None:
        super().__init__(lang)
        self.line = line
        self.condition = condition
        """The text the Input starts with."""

    def compose(self) -> ComposeResult:
        w = words(self.lang)
        with Vertical() as box:
            box.border_title = w["cond_title"].format(line=self.line)
            yield Static(w["cond_prompt"], id="cond-prompt", markup=False)
            yield Input(self.condition, placeholder=w["cond_placeholder"], id="cond-input")
            yield Static("", id="cond-error", markup=False)
            yield Static(w["cond_help"], id="cond-help", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = condition_error(text, self.lang) if text else None
        if error is not None:
            self.query_one("#cond-error", Static).update(error)
            return
        self.dismiss(text)
