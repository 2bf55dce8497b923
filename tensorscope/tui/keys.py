"""The footer's keys: described in the app's language, the keys the help lists anyway left out when narrow.

Done through public Textual APIs: the main screen's `active_bindings` (what the Footer reads) gives each
binding its description in the chosen language and its `show`; the bindings themselves, and so what every
key does, stay as declared (a key left out of the footer still works).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from textual.binding import ActiveBinding, Binding, BindingType
from textual.screen import Screen

NARROW_FOOTER = 100
"""Below this many columns the footer shows only n, s, c, ? and q (and the palette)."""
NARROW_HIDDEN = frozenset({"back", "forward", "finish", "breakpoint", "restart", "plot"})
KEY_WORDS = {"next": "k_next", "step": "k_step", "finish": "k_finish", "continue": "k_continue",
             "back": "k_back", "forward": "k_forward", "breakpoint": "k_breakpoint", "restart": "k_restart",
             "help": "k_help", "quit": "k_quit", "plot": "k_plot", "space": "k_autoplay",
             "command_palette": "k_palette", "evaluate": "k_evaluate", "watch": "k_watch",
             "frame_up": "k_frame_up", "frame_down": "k_frame_down", "save_trace": "k_save",
             "close": "k_close", "complete": "k_complete"}
"""Action → the words key of its Footer description."""

ROW_CURSOR_KEYS: list[BindingType] = [
    Binding("up", "cursor(-1)", "Cursor up", show=False),
    Binding("down", "cursor(1)", "Cursor down", show=False),
    Binding("pageup", "page(-1)", "Page up", show=False),
    Binding("pagedown", "page(1)", "Page down", show=False),
]
"""The keys that move a pane's row cursor (the Tensors table, the code), so both move alike: the pane has
`action_cursor(delta)` (rows) and `action_page(direction)` (a screenful)."""


class FooterWords(Protocol):
    """What the main screen asks the app about a binding shown in the footer."""

    def footer_binding(self, binding: Binding) -> Binding:
        """The binding as the footer shows it."""
        ...


def footer_binding(binding: Binding, words: dict[str, str], *, narrow: bool, autoplay: bool) -> Binding:
    """`binding` with its description in `words`; `space` is shown when it drives autoplay; when `narrow`
    the keys the help lists anyway are not shown, so `?` and `q` stay in the footer."""
    if binding.action not in KEY_WORDS:
        return binding
    show = autoplay if binding.action == "space" else binding.show and not (narrow and binding.action in
                                                                            NARROW_HIDDEN)
    return dataclasses.replace(binding, description=words[KEY_WORDS[binding.action]], show=show)


class MainScreen(Screen[None]):
    """The app's default screen: its active bindings, as the Footer reads them, in the app's words."""

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The screen's active bindings, each as the app's `footer_binding` describes it."""
        app = self.app
        if not hasattr(app, "footer_binding"):
            return super().active_bindings
        describe = app.footer_binding
        return {key: active._replace(binding=describe(active.binding))
                for key, active in super().active_bindings.items()}


def closing_bindings(active: dict[str, ActiveBinding], close: str) -> dict[str, ActiveBinding]:
    """A screen's active bindings with its `dismiss` keys described as `close` (the footer's word for it,
    in the chosen language): the public `active_bindings` a closable screen (help, plot) returns."""
    return {key: a._replace(binding=dataclasses.replace(a.binding, description=close))
            if a.binding.action == "dismiss" else a for key, a in active.items()}
