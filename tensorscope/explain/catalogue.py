"""The words of every flag code: its title, message, cause and fix, per language.

The words live in the language files (tensorscope/i18n/*.toml, tables `flags` and `variants`); this module
keeps the Python view other modules read. Placeholders like `{name}` are filled from the Flag's `data`; a
missing value shows as `?`. A flag's words in any language, English included, are `flag_text(flag, lang)`:
`Flag.message`/`Flag.hint` hold the English rendering made at emit time, kept for JSON consumers.
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorscope import i18n
from tensorscope.i18n import LANGS, fill
from tensorscope.model import Flag

__all__ = ["CATALOGUE", "CAUGHT", "CAUGHT_IN_FILE", "LANGS", "VARIANTS", "Entry", "Text", "flag_text",
           "render"]


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


def _entry(fields: dict[str, dict[str, str]]) -> Entry:
    return Entry(fields["title"], fields["message"], fields["cause"], fields["fix"])


CATALOGUE: dict[str, Entry] = {code: _entry(f) for code, f in i18n.flag_entries().items()}
"""Every flag code's words (tensorscope/i18n/*.toml, table `flags`)."""
VARIANTS: dict[tuple[str, str], Entry] = {key: _entry(f) for key, f in i18n.variant_entries().items()}
"""Other wordings of a code, chosen by `data["variant"]` (table `variants`)."""

CAUGHT: dict[str, str] = {lang: i18n.table(lang, "catalogue")["caught"] for lang in LANGS}
"""Added to the message of a pitfall the script caught (`caught`: the handler's line)."""
CAUGHT_IN_FILE: dict[str, str] = {lang: i18n.table(lang, "catalogue")["caught_in_file"] for lang in LANGS}
"""The same, when the handler is in another file than the line that raised."""


def _fill(template: str, data: dict[str, str]) -> str:
    return fill(template, data)


def render(code: str, lang: str, data: dict[str, str] | None = None) -> Text:
    """The explanation of `code` in `lang` (falls back to English), filled with `data`."""
    values = {k: str(v) for k, v in (data or {}).items()}
    entry = VARIANTS.get((code, values.get("variant", ""))) or CATALOGUE.get(code)
    if entry is None:
        return Text(code, code, values.get("message", code), "", values.get("hint", ""))

    def pick(texts: dict[str, str]) -> str:
        return fill(texts.get(lang) or texts["en"], values)

    message = pick(entry.message)
    if "caught" in values:
        message += pick(CAUGHT_IN_FILE if "caught_file" in values else CAUGHT)
    return Text(code, pick(entry.title), message, pick(entry.cause), pick(entry.fix))


def flag_text(flag: Flag, lang: str) -> Text:
    """A flag's words in `lang`, rendered from its code and data (every language, English included); a code
    the catalogue does not know (a trace from another version) keeps the flag's own message and hint."""
    if flag.code not in CATALOGUE:
        return Text(flag.code, flag.code, flag.message, "", flag.hint)
    return render(flag.code, lang, flag.data)
