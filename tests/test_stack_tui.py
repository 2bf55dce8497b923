"""`u`/`d` along the paused stack, and post-mortem after an uncaught exception, through the pilot."""

from __future__ import annotations

import pytest
from pilot_support import wait_until

from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.words import words

SIZES = [((120, 40), "en"), ((80, 24), "zh")]

NESTED = """
import torch


def train_step(w, batch):
    y = (w * batch).sum()
    return y


def main():
    steps = 2
    w = torch.ones(3, requires_grad=True)
    for i in range(steps):
        loss = train_step(w, torch.full((3,), float(i)))
    return loss


main()
"""
INNER_LINE = 5
"""`y = (w * batch).sum()`, inside train_step."""
CALL_LINE = 13
"""`loss = train_step(...)`, in main."""

RAISES = """
import torch


def scale(t, k):
    bad = t.view(4)
    return bad * k


values = torch.arange(6.0)
out = scale(values, 2)
"""


async def until(pilot, app: TensorScopeApp, done, key: str = "s", limit: int = 40) -> None:
    """Press `key` until `done()` holds at a pause (or the end)."""
    await wait_until(pilot, lambda: app.current_step is not None and app.state == "paused", "the first step")
    for _ in range(limit):
        if done():
            return
        before = len(app.history)
        await pilot.press(key)
        await wait_until(pilot, lambda before=before: app.state != "running" and (  # type: ignore[misc]
            len(app.history) > before or app.state not in ("paused", "starting")), key)
    raise AssertionError("never got there")


async def answer(pilot, app: TensorScopeApp, text: str) -> str:
    if not app.prompt.is_open:
        await pilot.press("colon")
    before = len(app._evaluations)
    app.prompt.fill(text)
    await pilot.press("enter")
    await wait_until(pilot, lambda: len(app._evaluations) > before, f"the answer to {text!r}")
    ev = app._evaluations[-1]
    return ev.text if ev.kind != "tensor" else f"tensor {ev.tensor.name if ev.tensor else ''}"


@pytest.mark.parametrize(("size", "lang"), SIZES)
async def test_up_shows_the_callers_frame_and_evaluates_there(write_script, size, lang):
    app = TensorScopeApp(str(write_script(NESTED)), lang=lang)
    async with app.run_test(size=size) as pilot:
        await until(pilot, app, lambda: app.current_step is not None and app.current_step.line == INNER_LINE)
        assert "NameError" in await answer(pilot, app, "steps")  # train_step cannot see main's locals
        await pilot.press("escape")
        await pilot.press("u")
        await wait_until(pilot, lambda: app._framed is not None, "the caller's frame")
        shown = app._shown_step()
        assert shown is not None and (shown.line, shown.function) == (CALL_LINE, "main")
        assert app.source.next_line == CALL_LINE  # the Source pane shows the caller's line
        assert app.tensors.selected_name is not None
        frame = words(lang)["frame_at"].format(n=2, total=3, function="main")
        status = str(app.query_one("#status").render())
        assert frame in status
        assert await answer(pilot, app, "steps") == "2"  # evaluated in main's frame
        assert app._evaluations[-1].frame == 1
        await pilot.press("escape", "u")
        await wait_until(pilot, lambda: app._frame == 0 and app._framed is not None
                         and app._framed.selected == 0, "the module's frame")
        await pilot.press("d", "d")
        assert app._frame is None and app._shown_step() is app.history.current  # back where it paused
        assert app.source.next_line == INNER_LINE
        await pilot.press("d")  # already the innermost: says so, nothing moves
        assert app._frame is None
        await pilot.press("u")
        await wait_until(pilot, lambda: app._framed is not None, "the caller again")
        await pilot.press("n")  # a new pause starts at its own frame again
        await wait_until(pilot, lambda: app.state == "paused" and app.current_step is not None
                         and app.current_step.line == INNER_LINE + 1, "the next line")
        assert app._frame is None and app._framed is None


async def test_post_mortem_evaluates_and_moves_in_the_dead_frames(write_script):
    app = TensorScopeApp(str(write_script(RAISES)))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, app, lambda: app.state != "paused", key="c")
        assert app.state == "exception"
        step = app.history.current
        assert step is not None and step.function == "scale" and step.exception is not None
        assert app.runner.alive  # the frames are kept until the next command
        status = str(app.query_one("#status").render())
        assert status.startswith("post-mortem: RuntimeError ·")  # why it paused, first
        assert "scale" in status and words("en")["exception"] in status  # (cut: where it is stays in view)
        assert await answer(pilot, app, "t.shape") == "torch.Size([6])"
        assert await answer(pilot, app, "k * 10") == "20"
        await pilot.press("escape", "u")
        await wait_until(pilot, lambda: app._framed is not None, "the module's frame")
        assert await answer(pilot, app, "values.numel()") == "6"
        await pilot.press("escape", "r")  # restart: a fresh run
        await wait_until(pilot, lambda: app.state == "paused" and len(app.history) == 1, "the restart")
        assert app._evaluations == [] and app._frame is None
