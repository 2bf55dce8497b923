"""The words: for every flag code, its title, message, cause and fix in English and Chinese.

Placeholders like `{name}` are filled from the Flag's `data`; a missing value shows as `?`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

LANGS: tuple[str, ...] = ("en", "zh")


@dataclass(frozen=True)
class Entry:
    """The wording of one flag code, per language."""

    title: dict[str, str]
    message: dict[str, str]
    """One sentence naming the user's variables."""
    cause: dict[str, str]
    """Why it happens, in plain words."""
    fix: dict[str, str]
    """What to write instead."""


@dataclass(frozen=True)
class Text:
    """An entry rendered in one language with the flag's values filled in."""

    code: str
    title: str
    message: str
    cause: str
    fix: str


CATALOGUE: dict[str, Entry] = {
}


class _Lenient(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, data: dict[str, str]) -> str:
    return string.Formatter().vformat(template, (), _Lenient(data))


def render(code: str, lang: str, data: dict[str, str] | None = None) -> Text:
    """The explanation of `code` in `lang` (falls back to English), filled with `data`."""
    entry = CATALOGUE.get(code)
    values = {k: str(v) for k, v in (data or {}).items()}
    if entry is None:
        return Text(code, code, values.get("message", code), "", values.get("hint", ""))

    def pick(texts: dict[str, str]) -> str:
        return _fill(texts.get(lang) or texts["en"], values)

    return Text(code, pick(entry.title), pick(entry.message), pick(entry.cause), pick(entry.fix))
