"""Every word tensorscope shows, one TOML file per language in this folder (`en.toml`, `zh.toml`, ...).

`en.toml` is the reference: every other file has the same keys and the same `{placeholders}`
(tests/test_i18n.py). Adding a language is adding one file: `LANGS` (and so `--lang`) lists the files
present, English first. Tables: `ui` (the TUI), `keys` (what each key does, by its binding's action),
`help`, `narrate` (what just happened), `report`, `lessons`, `catalogue`, `flags.CODE` and
`variants.CODE.VARIANT` (title, message, cause, fix); optional
in a translation: `system` (Textual's own palette entries) and `scenario_docs` (bundled scenarios'
docstrings). The engine may import this module: it imports neither Textual nor rich.
"""

from __future__ import annotations

import functools
import string
import tomllib
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent
"""Where the language files are (tests point it elsewhere)."""

OPTIONAL = frozenset({"system", "scenario_docs"})
"""Tables a translation may leave out or fill in part: their keys are not English words."""


def languages() -> tuple[str, ...]:
    """The language codes with a file in `FOLDER`, English first, the rest sorted."""
    found = sorted(p.stem for p in FOLDER.glob("*.toml"))
    return tuple(["en", *[c for c in found if c != "en"]]) if "en" in found else tuple(found)


LANGS: tuple[str, ...] = languages()


@functools.cache
def _load(folder: Path, lang: str) -> dict[str, Any]:
    with (folder / f"{lang}.toml").open("rb") as f:
        return tomllib.load(f)


def data(lang: str) -> dict[str, Any]:
    """The whole parsed file of `lang` (English when there is no such file)."""
    if not (FOLDER / f"{lang}.toml").is_file():
        lang = "en"
    return _load(FOLDER, lang)


@functools.cache
def _table(folder: Path, lang: str, name: str) -> dict[str, Any]:
    english: dict[str, Any] = _load(folder, "en").get(name, {})
    if lang == "en" or not (folder / f"{lang}.toml").is_file():
        return dict(english)
    own: dict[str, Any] = _load(folder, lang).get(name, {})
    return {**english, **own} if name not in OPTIONAL else dict(own)


def table(lang: str, name: str) -> dict[str, Any]:
    """Table `name` of `lang`, any key it lacks in English (optional tables: only its own keys)."""
    return _table(FOLDER, lang, name)


def words(lang: str) -> dict[str, str]:
    """The TUI's words (table `ui`) in `lang`."""
    return table(lang, "ui")


class _Lenient(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def fill(template: str, values: dict[str, str]) -> str:
    """`template` with its `{name}` placeholders filled from `values`; a missing value shows as `?`."""
    return string.Formatter().vformat(template, (), _Lenient(values))


def text(lang: str, key: str, **values: object) -> str:
    """The entry `table.key` (e.g. `report.why`) in `lang`, filled with `values`."""
    name, _, entry = key.partition(".")
    return fill(str(table(lang, name)[entry]), {k: str(v) for k, v in values.items()})


def flag_entries() -> dict[str, dict[str, dict[str, str]]]:
    """Per flag code, per field (title, message, cause, fix), per language: the words of the `flags` table."""
    return _flag_entries(FOLDER, LANGS, "flags")


def variant_entries() -> dict[tuple[str, str], dict[str, dict[str, str]]]:
    """The same for the `variants` table, keyed by (code, variant)."""
    return _variant_entries(FOLDER, LANGS)


@functools.cache
def _variant_entries(folder: Path, langs: tuple[str, ...]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for lang in langs:
        for code, by_variant in _load(folder, lang).get("variants", {}).items():
            for variant, fields in by_variant.items():
                for field, words_ in fields.items():
                    out.setdefault((code, variant), {}).setdefault(field, {})[lang] = words_
    return out


@functools.cache
def _flag_entries(folder: Path, langs: tuple[str, ...], name: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for lang in langs:
        for code, fields in _load(folder, lang).get(name, {}).items():
            for field, words_ in fields.items():
                out.setdefault(code, {}).setdefault(field, {})[lang] = words_
    return out


def clear_cache() -> None:
    """Forget the parsed files (after `FOLDER` or a file changed) and list the languages again."""
    global LANGS
    _load.cache_clear()
    _table.cache_clear()
    _flag_entries.cache_clear()
    _variant_entries.cache_clear()
    LANGS = languages()
