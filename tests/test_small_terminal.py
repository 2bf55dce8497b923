"""At 80x24 the footer keeps `?` and `q`, and a resize lays out the footer and the status bar again."""

from __future__ import annotations

from pilot_support import wait_until
from test_classroom import footer, status_text

from tensorscope.tui.app import TensorScopeApp


async def test_footer_keeps_help_and_quit_when_narrow_and_every_key_when_wide_again() -> None:
    app = TensorScopeApp("linreg")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.state == "paused", "the first pause")
        await wait_until(pilot, lambda: "?" in footer(app), "the footer")
        keys = footer(app)
        assert keys["?"] == "help" and keys["q"] == "quit" and keys["n"] == "next"
        assert "←" not in keys and "r" not in keys  # (the help screen lists them)
        assert len(status_text(app)) <= 80 and not status_text(app).startswith("tensorscope")
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: "←" in footer(app), "the wide footer")
        assert {"←", "→", "n", "s", "f", "c", "b", "r", "?", "q"} <= set(footer(app))
        await wait_until(pilot, lambda: status_text(app).startswith("tensorscope"), "the status bar refitted")
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: "←" not in footer(app), "the narrow footer again")
        assert {"?", "q"} <= set(footer(app))


async def test_the_same_in_chinese() -> None:
    app = TensorScopeApp("linreg", lang="zh")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "?" in footer(app), "the footer")
        assert footer(app)["?"] == "帮助" and footer(app)["q"] == "退出"
