"""The data-breakpoint menu `w` opens on a Tensors row: stop when the tensor changes, when its `.grad` is
written or zeroed, or remove its data breakpoints."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tensorscope.tui.closable import ClosableScreen
from tensorscope.tui.words import words

CHOICES = ("change", "grad", "remove")
"""What the menu returns: `change:NAME`, `grad:NAME`, or remove NAME's data breakpoints."""


class DataBreakScreen(ClosableScreen[str | None]):
    """Dismissed with one of CHOICES, or None (Esc). Keys: c (change), g (grad), x (remove)."""

    DEFAULT_CSS = """
    DataBreakScreen { align: center middle; }
    DataBreakScreen > Vertical {
        width: 76; max-width: 100%; height: auto; border: thick $accent; background: $surface; padding: 0 1;
    }
    DataBreakScreen OptionList { height: auto; max-height: 8; }
    DataBreakScreen #db-help { color: $text-muted; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("c", "choose('change')", "change", show=False),
        Binding("g", "choose('grad')", "grad", show=False),
        Binding("x", "choose('remove')", "remove", show=False),
    ]

    def __init__(self, name: str, lang: str = "en", active: tuple[str, ...] = ()) -> None:
        super().__init__(lang)
        self.tensor = name
        self.active = active
        """The kinds already set on this tensor (`change`, `grad`): the menu marks them."""

    def compose(self) -> ComposeResult:
        w = words(self.lang)
        options = []
        for kind in CHOICES:
            if kind == "remove" and not self.active:
                continue
            mark = "● " if kind in self.active else "  "
            options.append(Option(Content(mark + w[f"db_{kind}"].format(name=self.tensor)), id=kind))
        with Vertical() as box:
            box.border_title = w["db_title"].format(name=self.tensor)
            yield OptionList(*options, id="db-options")
            yield Static(w["db_help"], id="db-help", markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_choose(self, kind: str) -> None:
        if kind == "remove" and not self.active:
            return
        self.dismiss(kind)
