"""The footer's keys: described in the app's language, the keys the help lists anyway left out when narrow.

Done through public Textual APIs: a screen's `active_bindings` (what the Footer and Textual's key panel read)
gives each binding its description in the chosen language (the language files' `keys` table, by action) and,
on the main screen, its `show`; the bindings themselves, and so what every key does, stay as declared (a key
left out of the footer still works).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from textual.binding import ActiveBinding, Binding, BindingType
from textual.screen import Screen

NARROW_FOOTER = 100
"""Below this many columns the footer shows only n, s, c, ? and q (and the palette)."""
NARROW_HIDDEN = frozenset({"back", "forward", "finish", "breakpoint", "restart", "plot"})

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


def in_words(binding: Binding, keys: dict[str, str], **changes: object) -> Binding:
    """`binding` described by `keys` (a language file's `keys` table: action → description), without Textual's
    English tooltip; unchanged but for `changes` when its action has no entry there."""
    description = keys.get(binding.action)
    if description is not None:
        changes = {"description": description, "tooltip": "", **changes}
    return dataclasses.replace(binding, **changes) if changes else binding  # type: ignore[arg-type]


def footer_binding(binding: Binding, keys: dict[str, str], *, narrow: bool, autoplay: bool) -> Binding:
    """`binding` described in the chosen language (`keys`); `space` is shown when it drives autoplay; when
    `narrow` the keys the help lists anyway are not shown, so `?` and `q` stay in the footer."""
    show = autoplay if binding.action == "space" else binding.show and not (narrow and binding.action in
                                                                            NARROW_HIDDEN)
    return in_words(binding, keys, show=show)


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


def described_bindings(active: dict[str, ActiveBinding], keys: dict[str, str]) -> dict[str, ActiveBinding]:
    """A screen's active bindings, each described by `keys`: the public `active_bindings` a closable screen
    (help, plot) returns, so that its footer and Textual's key panel speak the chosen language."""
    return {key: a._replace(binding=in_words(a.binding, keys)) for key, a in active.items()}
