"""One catalogue per language (tensorscope/i18n/*.toml): key parity, placeholders, adding a language by
adding a file, and every flag's words rendered from its code and data."""

from __future__ import annotations

import re
import string
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tensorscope import i18n
from tensorscope.explain.catalogue import CATALOGUE, LANGS, VARIANTS, flag_text, render
from tensorscope.model import Flag
from tensorscope.report import format_flag, verdict
from tensorscope.tui.flags import flag_prompt
from tensorscope.tui.words import WORDS, words

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(i18n.FOLDER.glob("*.toml"))


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"ui": {"source": ...}}` as `{"ui.source": ...}` (arrays stay values)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _placeholders(value: Any) -> list[Any]:
    """The `{name}` fields of a string (per element for arrays), sorted."""
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return sorted({field for _, field, _, _ in string.Formatter().parse(value) if field is not None})


ENGLISH_GRAMMAR = frozenset({"was"})
"""Placeholders only English grammar needs (`was`/`were`): a translation may leave them out."""


def _same_fields(english: list[Any], other: list[Any]) -> bool:
    """The same placeholders (per element for arrays), but for English-only grammar words."""
    if english and isinstance(english[0], list):
        pairs = zip(english, other, strict=False)
        return len(english) == len(other) and all(_same_fields(e, o) for e, o in pairs)
    return set(other) <= set(english) and set(english) - set(other) <= ENGLISH_GRAMMAR


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def _required(path: Path) -> dict[str, Any]:
    return _flat({k: v for k, v in _load(path).items() if k not in i18n.OPTIONAL and k != "meta"})


def test_languages_are_the_files_present_english_first() -> None:
    assert LANGS == i18n.LANGS == ("en", *sorted(p.stem for p in FILES if p.stem != "en"))
    assert "zh" in LANGS


@pytest.mark.parametrize("path", [p for p in FILES if p.stem != "en"], ids=lambda p: p.stem)
def test_every_language_file_has_exactly_the_keys_of_english(path: Path) -> None:
    english, other = _required(i18n.FOLDER / "en.toml"), _required(path)
    assert sorted(set(english) - set(other)) == [], "missing"
    assert sorted(set(other) - set(english)) == [], "not in en.toml"


@pytest.mark.parametrize("path", [p for p in FILES if p.stem != "en"], ids=lambda p: p.stem)
def test_every_entry_keeps_the_placeholders_of_english(path: Path) -> None:
    english, other = _required(i18n.FOLDER / "en.toml"), _required(path)
    differ = {k: (_placeholders(v), _placeholders(other[k])) for k, v in english.items()
              if k in other and not _same_fields(_placeholders(v), _placeholders(other[k]))}
    assert differ == {}
    lengths = {k: (len(v), len(other[k])) for k, v in english.items()
               if isinstance(v, list) and len(v) != len(other[k])}
    assert lengths == {}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_file_names_its_language_and_has_no_empty_entry(path: Path) -> None:
    data = _load(path)
    assert data["meta"]["name"]
    empty = [k for k, v in _required(path).items() if v == [] or (v == "" and k != "ui.no_output")]
    assert empty == []


def test_the_optional_tables_only_translate() -> None:
    """`system`: Textual's palette entries by English title; `scenario_docs`: scenarios by first line."""
    for path in FILES:
        data = _load(path)
        for title, pair in data.get("system", {}).items():
            assert title in {"Theme", "Quit", "Keys", "Minimize", "Maximize", "Screenshot"} and len(pair) == 2
        assert "scenario_docs" not in data or path.stem != "en"


def test_the_python_views_are_the_files() -> None:
    zh = _load(i18n.FOLDER / "zh.toml")
    assert CATALOGUE["device-mismatch"].title["zh"] == zh["flags"]["device-mismatch"]["title"]
    assert set(CATALOGUE) == set(_load(i18n.FOLDER / "en.toml")["flags"])
    code, variant = next(iter(VARIANTS))
    assert VARIANTS[(code, variant)].fix["zh"] == zh["variants"][code][variant]["fix"]
    assert WORDS["zh"]["source"] == words("zh")["source"] == zh["ui"]["source"]
    assert words("xx") == words("en")


def test_text_fills_placeholders_and_shows_a_missing_value_as_a_question_mark() -> None:
    assert i18n.text("en", "ui.exit", code=3) == "exited (status 3)"
    assert i18n.text("zh", "ui.exit") == "已退出（状态 ?）"


def _third_language(tmp_path: Path) -> Path:
    """A copy of the folder with `xx.toml`: en.toml with a few words changed."""
    for path in FILES:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    text = (i18n.FOLDER / "en.toml").read_text(encoding="utf-8")
    text = text.replace('name = "English"', 'name = "Xx"', 1)
    head, report = text.split("\n[report]\n", 1)
    text = head + "\n[report]\n" + report.replace('\nwhy = "why"\n', '\nwhy = "warum"\n', 1)
    (tmp_path / "xx.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_language_file_dropped_into_the_folder_is_a_language(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _third_language(tmp_path)
    monkeypatch.setattr(i18n, "FOLDER", folder)
    try:
        i18n.clear_cache()
        assert i18n.LANGS == ("en", "xx", "zh")
        assert i18n.text("xx", "report.why") == "warum"
        assert i18n.words("xx")["source"] == "Source"
    finally:
        monkeypatch.undo()
        i18n.clear_cache()
    assert i18n.LANGS == LANGS


def test_a_dropped_in_language_is_a_lang_choice_of_the_cli(tmp_path: Path) -> None:
    folder = _third_language(tmp_path)
    program = (
        "import sys; from pathlib import Path; import tensorscope.i18n as i18n\n"
        f"i18n.FOLDER = Path({str(folder)!r}); i18n.clear_cache()\n"
        "from tensorscope.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    out = subprocess.run([sys.executable, "-c", program, "check", "--help"], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert re.search(r"\[en\|xx\|zh\]", re.sub(r"\s+", "", out.stdout)), out.stdout
    command = [sys.executable, "-c", program, "check", "--lang", "xx", "scenarios/broadcast_loss.py"]
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert "  warum: " in out.stdout and "  why: " not in out.stdout, out.stdout + out.stderr


FLAG = Flag("shape-mismatch", "error", 3, "<module>", "stale English from an older catalogue", "stale hint",
            data={"variant": "item", "tensor": "loss", "numel": "4"})


@pytest.mark.parametrize("lang", LANGS)
def test_a_flag_s_words_come_from_its_code_and_data_in_every_language(lang: str) -> None:
    text = render("shape-mismatch", lang, FLAG.data)
    assert flag_text(FLAG, lang) == text
    assert text.message in flag_prompt(FLAG, lang).plain and "stale" not in flag_prompt(FLAG, lang).plain
    report = "\n".join(format_flag(FLAG, lang, explain=True))
    assert text.message in report and text.fix in report and "stale" not in report


def test_a_flag_code_the_catalogue_does_not_know_keeps_its_own_words() -> None:
    flag = Flag("from-the-future", "info", 1, "<module>", "a message", "a hint")
    assert flag_text(flag, "zh").message == "a message" and flag_text(flag, "zh").fix == "a hint"
    assert "a message" in flag_prompt(flag, "zh").plain


def test_the_verdict_is_worded_by_the_language_files() -> None:
    from tensorscope.model import Trace

    trace = Trace(script="x.py")
    assert verdict([FLAG], trace, "en") == "1 error, 0 warnings, 0 infos; the script finished"
    assert verdict([FLAG], trace, "zh") == "1 个错误，0 个警告，0 条提示；脚本运行结束"


WORDED = ["tensorscope/diff.py", "tensorscope/report.py", "tensorscope/optim_diff.py",
          "tensorscope/explain/catalogue.py", "tensorscope/tui/words.py", "tensorscope/tui/help.py",
          "tensorscope/tui/narration.py", "tensorscope/tui/nextline.py", "tensorscope/tui/flags.py",
          "tensorscope/tui/inspector.py"]


@pytest.mark.parametrize("module", WORDED)
def test_no_module_that_shows_words_branches_on_a_language(module: str) -> None:
    """(lessons.py keeps one: a docstring's own `中文:` section is Chinese by its heading.)"""
    source = (ROOT / module).read_text(encoding="utf-8")
    assert re.findall(r"""lang\s*[!=]=\s*["'](?!en["'])\w+["']""", source) == []
    assert re.findall(r"""["']zh["']\s*:""", source) == []


def test_every_word_key_the_code_reads_is_in_english() -> None:
    """`w["key"]` and `words(lang)["key"]` in tensorscope/: each key is in table ui, narrate or report."""
    known = {*i18n.table("en", "ui"), *i18n.table("en", "narrate"), *i18n.table("en", "report")}
    pattern = re.compile(r"""(?:\bw|words\([^)]*\))\[\s*["']([\w-]+)["']""")
    read = {(str(p.relative_to(ROOT)), m.group(1)) for p in (ROOT / "tensorscope").rglob("*.py")
            for m in pattern.finditer(p.read_text(encoding="utf-8"))}
    assert sorted((p, k) for p, k in read if k not in known) == []


def test_an_optimizer_tensor_without_a_name_is_labelled_from_the_files() -> None:
    from tensorscope.model import OptimizerParam
    from tensorscope.optim_diff import param_label

    param = OptimizerParam(name="", group=0, shape=(2,))
    assert param_label(param, 3, "en") == "tensor #3 (no name in scope)"
    assert param_label(param, 3, "zh") == i18n.text("zh", "ui.ov_param_n", i=3)
