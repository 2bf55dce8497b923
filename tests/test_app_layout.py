"""The app's code: split by idea into modules under 500 lines, the footer's words through public Textual APIs,
and keys the narrow footer leaves out still work."""

from __future__ import annotations

import re
from pathlib import Path

from pilot_support import paused, wait_until
from test_classroom import footer, status_text

from tensorscope.screenshot import make_app
from tensorscope.tui.app import TensorScopeApp

TUI = Path(__file__).resolve().parents[1] / "tensorscope" / "tui"


def test_no_tui_module_is_over_500_lines() -> None:
    """Every module of the app is under 500 lines (the app itself is split by idea)."""
    lengths = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in TUI.glob("*.py")}
    assert lengths["app.py"] > 0
    assert {name: n for name, n in lengths.items() if n > 500} == {}


def test_the_tui_does_not_rewrite_textual_private_bindings() -> None:
    """No module of the TUI reads or rewrites Textual's private binding maps (the help and plot screens
    describe their keys through the public `active_bindings` too)."""
    modules = list(TUI.glob("*.py"))
    assert len(modules) >= 15
    users = [p.name for p in modules
             if re.search(r"\._bindings\b|key_to_bindings", p.read_text(encoding="utf-8"))]
    assert users == []


def test_the_app_keeps_its_public_api() -> None:
    """`TensorScopeApp` is still importable from tensorscope.tui.app, with its actions and from_trace."""
    for name in ("action_next", "action_step", "action_finish", "action_continue", "action_back",
                 "action_forward", "action_breakpoint", "action_restart", "action_plot", "action_help",
                 "action_toggle_language", "action_toggle_autoplay", "from_trace", "current_step"):
        assert hasattr(TensorScopeApp, name), name


async def test_keys_left_out_of_the_narrow_footer_still_work() -> None:
    """At 80 columns → is not in the footer, and pressing it still runs the next line."""
    app = make_app("linreg")
    async with app.run_test(size=(80, 24)) as pilot:
        await paused(pilot, app)
        await wait_until(pilot, lambda: "?" in footer(app), "the footer")
        assert "→" not in footer(app) and "b" not in footer(app)
        before = len(app.history)
        await pilot.press("right")
        await wait_until(pilot, lambda: len(app.history) > before and app.state == "paused", "the next line")
        assert app.current_step is not None and app.current_step.line > 1


async def test_switching_language_redescribes_the_keys_without_rebinding_them() -> None:
    """The palette's language switch gives the footer Chinese words; the keys do the same things."""
    app = make_app("linreg")
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await wait_until(pilot, lambda: footer(app).get("n") == "next", "the English footer")
        app.action_toggle_language()
        await wait_until(pilot, lambda: footer(app).get("?") == "帮助", "the Chinese footer")
        assert footer(app)["q"] == "退出"
        assert {b.action for _, b, _, _ in app.screen.active_bindings.values()} >= {"next", "step", "quit"}
        before = len(app.history)
        await pilot.press("n")
        await wait_until(pilot, lambda: len(app.history) > before and app.state == "paused", "the next line")


async def test_the_status_line_and_keys_follow_the_apps_state_by_themselves() -> None:
    """`lang` and `state` are reactive: assigning them redraws the status line and the footer's keys."""
    app = make_app("linreg")
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        assert "paused" in status_text(app)
        app.lang = "zh"
        assert "已暂停" in status_text(app)
        await wait_until(pilot, lambda: footer(app).get("q") == "退出", "the Chinese footer")
        app.state = "stopped"
        assert "已暂停" not in status_text(app)
