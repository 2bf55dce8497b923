"""The TUI's own words (pane titles, states, hints): a view of table `ui` of the language files
(tensorscope/i18n/*.toml)."""

from __future__ import annotations

from tensorscope import i18n
from tensorscope.i18n import LANGS

WORDS: dict[str, dict[str, str]] = {lang: i18n.words(lang) for lang in LANGS}
"""Per language, every UI word (English fills any a file lacks)."""


def words(lang: str) -> dict[str, str]:
    """The UI words for `lang` (English when unknown)."""
    return i18n.words(lang)


def key_words(lang: str) -> dict[str, str]:
    """What each key does, by its binding's action, in `lang` (table `keys` of the language files)."""
    return i18n.table(lang, "keys")


SYSTEM_COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    lang: {title: (pair[0], pair[1]) for title, pair in i18n.table(lang, "system").items()}
    for lang in LANGS if i18n.table(lang, "system")
}
"""Textual's own command-palette entries, by English title: (title, help) in other languages."""
