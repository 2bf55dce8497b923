"""The line that runs is always readable in full (#14, item 7): the `▶ code` row under the status bar, the
Source pane scrolled sideways from the keyboard, maximized, and ▶ kept in view after a resize."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pilot_support import paused, wait_until
from test_classroom import status_text
from textual.app import App, ComposeResult
from textual.geometry import Region

from tensorscope.model import Step
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.nextline import NextLine

LONG_CODE = ("first_tensor_with_a_long_name = torch.ones(3, 4, requires_grad=True) * torch.arange(4.0)"
             " + torch.zeros(3, 4) - torch.full((3, 4), 0.5) * 2.0")
LONG = f"import torch\n\n{LONG_CODE}\nprint(first_tensor_with_a_long_name.sum())\n"


def row(app: App[None]) -> NextLine:
    return app.query_one("#nextline", NextLine)


def screen_text(widget: NextLine) -> str:
    """What the row shows on screen, its rows joined."""
    width, height = widget.outer_size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height))).rstrip()


def in_view(app: TensorScopeApp, line: int) -> bool:
    source = app.source
    top = int(source.scroll_y)
    return top <= line - 1 < top + source.scrollable_content_region.height


async def test_the_row_shows_the_next_line_its_place_and_function_at_80x24() -> None:
    app = TensorScopeApp("linreg")
    async with app.run_test(size=(80, 24)) as pilot:
        await paused(pilot, app)
        await pilot.press("n", "n")  # (the docstring, import torch)
        await wait_until(pilot, lambda: app.current_step is not None and app.current_step.line == 14
                         and app.state == "paused", "line 14")
        await pilot.pause()
        nextline = row(app)
        assert nextline.display and nextline.size.height == 1  # compact: one row for a short line
        assert nextline.text == "▶ next: torch.manual_seed(0)   scenarios/linreg.py:14 in <module>"
        assert screen_text(nextline).strip() == nextline.text


async def test_a_long_line_wraps_and_is_never_cut(write_script: Callable[..., Path]) -> None:
    app = TensorScopeApp(str(write_script(LONG)))
    async with app.run_test(size=(80, 24)) as pilot:
        await paused(pilot, app)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.current_step is not None and app.current_step.line == 3
                         and app.state == "paused", "the long line")
        await pilot.pause()
        nextline = row(app)
        assert 2 <= nextline.size.height <= 3
        shown = screen_text(nextline)
        assert "".join(shown.split()) == "".join(nextline.text.split())  # every character on screen
        assert "".join(LONG_CODE.split()) in "".join(shown.split())
        assert "…/script.py:3 in <module>" in nextline.text


async def test_the_row_in_chinese_and_hidden_once_the_script_ended() -> None:
    app = TensorScopeApp("linreg", lang="zh")
    async with app.run_test(size=(80, 24)) as pilot:
        await paused(pilot, app)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.current_step is not None and app.current_step.line == 12
                         and app.state == "paused", "line 12")
        assert row(app).text == "▶ 下一行：import torch   scenarios/linreg.py:12，在 <module> 中"
        await pilot.press("c")
        await wait_until(pilot, lambda: app.state == "finished", "the end")
        await pilot.pause()
        assert not row(app).display and row(app).text == ""
        await pilot.press("left")  # a step of the history: its next line again
        await wait_until(pilot, lambda: row(app).display, "the row back")
        step = app.current_step
        assert step is not None and f"linreg.py:{step.line}" in row(app).text


async def test_the_row_is_hidden_before_the_first_step() -> None:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield NextLine(id="nextline")

    app = One()
    async with app.run_test(size=(80, 10)) as pilot:
        assert not row(app).display
        step = Step(index=0, file="t.py", line=3, function="f", depth=1, event="exception")
        row(app).show_step(step, "  1 / 0  ")
        await pilot.pause()
        assert row(app).display and row(app).text == "✖ raised: 1 / 0   t.py:3 in f"
        row(app).show_step(None, "")
        await pilot.pause()
        assert not row(app).display


async def test_the_source_pane_scrolls_sideways_from_the_keyboard(write_script: Callable[..., Path]) -> None:
    app = TensorScopeApp(str(write_script(LONG)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.current_step is not None and app.state == "paused", "a pause")
        app.source.focus()
        await pilot.pause()
        assert app.source.scroll_x == 0
        await pilot.press("l", "l")
        await wait_until(pilot, lambda: app.source.scroll_x == 16, "two steps right")
        await pilot.press("shift+left")
        await wait_until(pilot, lambda: app.source.scroll_x == 8, "one step left")
        await pilot.press("shift+right", "h", "h", "h")
        await wait_until(pilot, lambda: app.source.scroll_x == 0, "back at the left edge")
        await pilot.press("n")
        await paused(pilot, app)
        await pilot.press("left")  # ← still walks the history while Source has the focus
        await wait_until(pilot, lambda: app.history.index == 0, "a step back")


async def test_maximize_widens_the_source_pane_and_keeps_the_next_line_in_view() -> None:
    app = TensorScopeApp("linreg", breakpoints=[36])
    async with app.run_test(size=(80, 24)) as pilot:
        await paused(pilot, app)
        await pilot.press("c")
        await wait_until(pilot, lambda: app.current_step is not None and app.current_step.line == 36
                         and app.state == "paused", "line 36")
        narrow = app.source.outer_size.width
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.maximized is app.source, "maximized")
        await wait_until(pilot, lambda: app.source.outer_size.width == 80, "the full width")
        assert app.source.outer_size.width > narrow and app.source.has_focus
        await wait_until(pilot, lambda: in_view(app, 36), "▶ in view")
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.maximized is None, "back to every pane")
        assert app.source.outer_size.width == narrow and in_view(app, 36)


async def test_after_a_resize_the_next_line_stays_in_view_and_the_status_bar_fits() -> None:
    app = TensorScopeApp("linreg", breakpoints=[36])
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await pilot.press("c")
        await wait_until(pilot, lambda: app.current_step is not None and app.current_step.line == 36
                         and app.state == "paused", "line 36")
        for width, height in ((80, 24), (120, 40), (80, 24)):
            await pilot.resize_terminal(width, height)
            wide = width > 100
            await wait_until(pilot, lambda wide=wide: (app.source.size.height > 24) == wide, "laid out")
            await wait_until(pilot, lambda: in_view(app, 36), f"▶ in view at {width}x{height}")
            await wait_until(pilot, lambda wide=wide: status_text(app).startswith("tensorscope") == wide,
                             "the status bar laid out for the width")
            assert row(app).text and "linreg.py:36" in row(app).text


def test_the_row_shows_the_code_without_its_trailing_comment() -> None:
    """The ▶ row is the code that runs: a trailing comment stays in Source, a `#` inside a string stays."""
    from tensorscope.tui.nextline import next_line_content

    step = Step(index=3, file="linreg.py", line=30, function="<module>", depth=0)
    text = next_line_content(step, "    with torch.no_grad():   # the update must not be recorded").plain
    assert "with torch.no_grad():" in text and "recorded" not in text and "linreg.py:30" in text
    text = next_line_content(step, 'print("# not a comment")  # a comment').plain
    assert 'print("# not a comment")' in text and text.count("comment") == 1
