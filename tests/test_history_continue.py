"""After `c` or `f` the history keeps every step the script ran: ← walks back through them, and their step
numbers are those of `tensorscope trace` on the same script (#14, item 6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_runs import tensorscope_here
from pilot_support import paused, wait_until

import tensorscope.tui.app as app_module
from tensorscope.engine import Session
from tensorscope.model import Step
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.history import History

LINREG = Path(__file__).parent.parent / "scenarios" / "linreg.py"

CALLS = '''\
def double(v):
    w = v * 2
    w = w + 1
    return w


total = 0
for i in range(3):
    total = double(total)
print(total)
'''


def trace_steps(script: Path) -> list[tuple[int, int, str]]:
    """(index, line, event) of every Step `tensorscope trace --json` records."""
    proc = tensorscope_here("trace", "--json", str(script))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    return [(s["index"], s["line"], s["event"]) for s in json.loads(out)["steps"]]


def key(step: Step) -> tuple[int, int, str]:
    return (step.index, step.line, step.event)


async def walk_back(pilot: object, app: TensorScopeApp) -> list[tuple[int, int, str]]:
    """Press ← until the first step kept; the Steps shown on the way, oldest first."""
    seen = [key(app.current_step)] if app.current_step else []
    while app.history.index > 0:
        goal = app.history.index - 1
        await pilot.press("left")  # type: ignore[attr-defined]
        await wait_until(pilot, lambda goal=goal: app.history.index == goal, "a step back")
        assert app.current_step is not None
        seen.append(key(app.current_step))
    return seen[::-1]


async def test_continue_to_a_breakpoint_keeps_every_step_with_trace_indexes() -> None:
    expected = trace_steps(LINREG)
    app = TensorScopeApp(str(LINREG), breakpoints=[31])
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await pilot.press("c")
        await wait_until(pilot, lambda: app.state == "paused" and app.current_step is not None
                         and app.current_step.line == 31, "the breakpoint")
        pause = app.current_step
        assert pause is not None and app.history.at_end
        seen = await walk_back(pilot, app)
        assert seen == expected[: pause.index + 1]  # every step, none skipped, numbered as trace numbers them
        await pilot.press("n")  # far back in the history: n first comes back to the pause
        await wait_until(pilot, lambda: app.history.at_end, "back at the pause")
        assert app.current_step == pause


async def test_n_then_continue_to_the_end_keeps_every_step_of_trace() -> None:
    expected = trace_steps(LINREG)
    app = TensorScopeApp(str(LINREG))
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await pilot.press("n", "n")
        await wait_until(pilot, lambda: app.current_step is not None and app.current_step.index == 2
                         and app.state == "paused", "two lines run")
        await pilot.press("c")
        await wait_until(pilot, lambda: app.state == "finished", "the end")
        assert [key(s) for s in app.history.steps] == expected
        assert app.history.index == len(expected) - 1  # the screen followed the run to its end


async def test_finish_keeps_the_lines_of_the_function(write_script: Callable[..., Path]) -> None:
    script = write_script(CALLS)
    expected = trace_steps(script)
    app = TensorScopeApp(str(script))
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        for _ in range(3):  # total = 0, for, total = double(total)
            await pilot.press("n")
            await paused(pilot, app)
        await pilot.press("s")  # into double()
        await wait_until(pilot, lambda: app.current_step is not None and app.current_step.function == "double"
                         and app.state == "paused", "inside double()")
        await pilot.press("f")
        await wait_until(pilot, lambda: app.current_step is not None and app.state == "paused"
                         and app.current_step.function == "<module>" and app.current_step.index > 5,
                         "back in the caller")
        pause = app.current_step
        assert pause is not None
        steps = [key(s) for s in app.history.steps]
        assert steps == expected[: pause.index + 1]
        assert any(event == "return" for _, _, event in steps)  # the return finish ran through is there
        seen = await walk_back(pilot, app)
        assert seen == steps


async def test_next_over_a_call_counts_its_lines_without_keeping_them(
        write_script: Callable[..., Path]) -> None:
    script = write_script(CALLS)
    expected = trace_steps(script)
    app = TensorScopeApp(str(script))
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        for _ in range(4):  # total = 0, for, total = double(total) (stepped over), for
            await pilot.press("n")
            await paused(pilot, app)
        shown = [key(s) for s in app.history.steps]
        assert set(shown) <= set(expected)  # numbered as trace numbers them
        assert all(function == "<module>" for function in (s.function for s in app.history.steps))
        assert shown[-1][0] > len(shown) - 1  # double()'s lines were counted, not kept


async def test_the_history_stays_within_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "History", lambda: History(max_steps=20))
    expected = trace_steps(LINREG)
    app = TensorScopeApp(str(LINREG))
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await pilot.press("c")
        await wait_until(pilot, lambda: app.state == "finished", "the end")
        assert len(app.history) <= 20 and app.history.dropped > 0
        assert [key(s) for s in app.history.steps] == expected[-len(app.history):]
        assert "Epoch 5, Loss" in app.history.output()  # what the dropped steps printed stays


def test_the_engine_session_without_the_ui_pauses_as_before() -> None:
    """Only the engine process of the UI asks for the steps in between: a Session's indexes count pauses."""
    session = Session(str(LINREG))
    session.start()
    first = session.wait()
    assert first is not None and first.index == 0
    session.send("continue")
    end = session.wait()
    assert end is not None and end.event == "end" and end.index == 1
    session.join(30)
