"""Chinese mode is complete: the scenarios' summaries and docstrings, the status bar in natural Chinese, text
wrapped by cell width without splitting a code span or a shape, the palette, the help screen's rows."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from pilot_support import paused, wait_until
from rich.cells import cell_len
from textual.command import CommandList, CommandPalette
from textual.widgets import Input

from tensorscope.cli import main
from tensorscope.engine import list_scenarios
from tensorscope.lessons import first_line, reflow, script_doc, translated
from tensorscope.lessons_zh import DOCS_ZH
from tensorscope.model import Step
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.help import KEYS, MARKS, help_content
from tensorscope.tui.narration import LINES, Narration
from tensorscope.tui.status import status_content
from tensorscope.tui.words import key_words
from tensorscope.tui.wrap import wrap_spans

SCENARIOS = {p.stem: script_doc(p.read_text(encoding="utf-8")) for p in list_scenarios()}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_has_its_docstring_in_chinese(name: str) -> None:
    en = SCENARIOS[name]
    zh = translated(en, "zh")
    assert zh != en and first_line(en) in DOCS_ZH
    assert re.search(r"[\u4e00-\u9fff]", first_line(zh))
    lines_en = sorted(int(n) for n in re.findall(r"\b[Ll]ine (\d+)", en))
    lines_zh = sorted(int(n) for n in re.findall(r"第 (\d+) 行", zh))
    assert lines_zh == lines_en  # the same lines named, each as often
    codes = {c for c in re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", en)}
    assert codes == {c for c in re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", zh)}
    assert "(8, 1)" not in en + zh and "(3,)" not in en + zh  # (one shape notation: tensorscope/shapes.py)


def test_every_translation_belongs_to_a_scenario() -> None:
    assert set(DOCS_ZH) == {first_line(doc) for doc in SCENARIOS.values()}


def test_list_in_chinese_shows_chinese_summaries() -> None:
    out = CliRunner().invoke(main, ["list", "--lang", "zh"]).output
    assert "1. 张量基础" in out
    assert "手写 SGD 做线性回归 y = 2x + 1" in out and "Linear regression" not in out
    english = CliRunner().invoke(main, ["list"]).output
    assert "Linear regression y = 2x + 1" in english and "手写" not in english


def test_a_script_can_carry_its_own_chinese() -> None:
    doc = "Adds two numbers.\n\nWatch line 3.\n\n中文:\n两个数相加。\n\n观察第 3 行。"
    assert translated(doc, "en") == "Adds two numbers.\n\nWatch line 3."
    assert translated(doc, "zh") == "两个数相加。\n\n观察第 3 行。"
    assert translated("Only English.", "zh") == "Only English."


def step(index: int, line: int) -> Step:
    return Step(index=index, file="s.py", line=line, function="<module>", depth=0, event="line",
                prev_line=None, prev_file=None, tensors=(), grad_enabled=True)


def test_the_status_bar_in_natural_chinese() -> None:
    text = status_content("linreg.py", step(26, 34), "paused", lang="zh").plain
    assert "第 26 步 · 第 34 行（<module>）" in text
    assert "step 26 · line 34 in <module>" in status_content("linreg.py", step(26, 34), "paused").plain


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_help_rows_line_up_by_cells(lang: str) -> None:
    rows = help_content(lang).plain.split("\n")
    texts = [t for _, t in KEYS[lang]] + [t for _, _, t in MARKS[lang]]
    for text in texts:
        row = next(r for r in rows if r.endswith(text))
        assert cell_len(row[: len(row) - len(text)]) == 11, row  # the key right-aligned in 9 cells, then 2


@pytest.mark.parametrize("width", [20, 33, 47, 60, 74, 100])
def test_wrapping_never_splits_a_code_span_or_a_shape(width: int) -> None:
    for doc in DOCS_ZH.values():
        for start, end in wrap_spans(doc, width):
            line = doc[start:end]
            assert cell_len(line) <= width
            assert line.count("`") % 2 == 0 or any(
                cell_len(span) > width for span in re.findall(r"`[^`]*`", doc)), line
        for shape in re.findall(r"\d+×\d+", doc):
            assert any(shape in doc[s:e] for s, e in wrap_spans(doc, width))


def test_wrapping_breaks_chinese_between_characters() -> None:
    text = "这里这是有意为之：每个小批次的损失都除以了累积步数"
    lines = [text[s:e] for s, e in wrap_spans(text, 20)]
    assert "".join(lines) == text and all(cell_len(line) <= 20 for line in lines)
    assert not any(line.startswith("：") for line in lines)


def language_offered(app: TensorScopeApp) -> bool:
    """The palette's one match is the language command (an empty query lists nothing)."""
    found = app.screen.query_one(CommandList)
    return found.option_count == 1 and "English" in str(found.get_option_at_index(0).prompt)


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_palette_finds_the_language_command_by_either_word(
        lang: str, write_script: Callable[..., Path]) -> None:
    app = TensorScopeApp(str(write_script("x = 1\n")), lang=lang)
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        for query in ("Language", "语言"):
            await pilot.press("ctrl+p")
            await wait_until(pilot, lambda: app.screen.query(CommandList), "the palette")
            await pilot.press(*query)
            await wait_until(pilot, lambda: language_offered(app), f"'{query}' found")
            await pilot.press("escape")
            await wait_until(pilot, lambda: not app.screen.query(CommandList), "the palette closed")


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_a_lesson_in_chinese_on_screen(size: tuple[int, int]) -> None:
    zh = translated(SCENARIOS["linreg"], "zh")
    app = TensorScopeApp("linreg", lang="zh")
    async with app.run_test(size=size) as pilot:
        await paused(pilot, app)
        narration = app.query_one(Narration)
        intro = str(narration.render())
        assert first_line(zh) in intro and "…" not in intro  # whole, never cut
        assert len(wrap_spans(intro, narration.content_size.width)) <= LINES
        status = str(app.query_one("#status").render())
        assert re.search(r"第 0 步 · 第 \d+ 行（<module>）", status)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: len(app.screen_stack) > 1, "the help screen")
        help_text = str(app.screen.query_one("Static").render())
        assert "关于这个脚本" in help_text and "第 34 行（`w.grad.zero_()`）" in help_text
        assert "Watch in tensorscope" not in help_text
        await pilot.press("escape")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.current_step is not None and app.current_step.index == 1,
                         "the first line run")
        assert first_line(zh) not in str(narration.render())
        assert "刚才发生了什么：" in str(narration.render())


def test_about_this_script_joins_chinese_lines_without_spaces() -> None:
    text = reflow(translated(SCENARIOS["broadcast_loss"], "zh"))
    assert "。 " not in text and "广播。\ntensorscope" in text  # (a sentence that began a line stays on one)
    assert "第 32 行\n（" not in text and "第 32 行（`diff = y_pred - target`）" in text


async def test_every_key_on_every_screen_is_described_in_chinese() -> None:
    """The footer and Textual's key panel (command palette → Keys) read a screen's active bindings: in Chinese
    each one, the app's own, its panes' and Textual's widgets', is described from the `keys` table."""
    keys = key_words("zh")
    app = TensorScopeApp(str(Path(__file__).resolve().parent.parent / "scenarios" / "linreg.py"), lang="zh")
    seen: dict[str, tuple[str, str]] = {}

    def collect(where: str) -> None:
        for active in app.screen.active_bindings.values():
            binding = active.binding
            seen[binding.action] = (where, binding.description, binding.tooltip)

    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        for _ in range(6):  # (x, y, w and b exist)
            await pilot.press("n")
            await paused(pilot, app)
        for widget in list(app.screen.focus_chain):
            widget.focus()
            await pilot.pause()
            collect(type(widget).__name__)
        app.query_one("#tensors").focus()
        await pilot.press("down")  # a tensor selected, for w
        await wait_until(pilot, lambda: app.tensors.selected_name is not None, "a tensor selected")
        for key, screen in (("w", "the data breakpoint dialog"), ("b", "the condition dialog"),
                            ("colon", "the evaluation prompt"), ("W", "the watch prompt"),
                            ("question_mark", "the help"), ("p", "the plot")):
            await pilot.press(key)
            await wait_until(pilot, lambda: app.screen is not app.screen_stack[0] or app.focused is not None
                             and type(app.focused).__name__ == "PromptInput", screen)
            collect(screen)
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.screen_stack[0]
                             and type(app.focused).__name__ != "PromptInput", f"{screen} closed")
    # every screen was reached: the dialog's keys, the prompt's Input, the help, the code, the table, Textual
    reached = {"choose('grad')", "delete_left", "dismiss", "pan(1)", "select_cursor", "app.focus_next"}
    assert reached <= set(seen)
    english = {action: where for action, (where, description, _) in seen.items()
               if keys.get(action) != description}
    assert english == {}, f"described in English (no `keys` entry in zh.toml): {english}"
    assert {tip for _, _, tip in seen.values()} == {""}


async def test_the_command_palette_asks_in_chinese() -> None:
    app = TensorScopeApp(str(Path(__file__).resolve().parent.parent / "scenarios" / "linreg.py"), lang="zh")
    async with app.run_test(size=(120, 30)) as pilot:
        await paused(pilot, app)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
        assert app.screen.query_one(Input).placeholder == "搜索命令…"
