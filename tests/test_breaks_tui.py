"""Conditional breakpoints (`b`), run to the cursor (`g`), data breakpoints (`w`, the palette's stop-on, and
`--stop-on`) in the TUI, live and in a replay, driven through the pilot as a user would."""

from __future__ import annotations

import pytest
from linreg_script import BACKWARD_LINE, LINREG, LOOP_LINE, UPDATE_LINE, ZERO_LINE
from pilot_support import paused, wait_until

from tensorscope.engine import stopon
from tensorscope.model import PauseReason, Trace
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.condition import ConditionScreen
from tensorscope.tui.databreak import DataBreakScreen
from tensorscope.tui.reasons import reason_text
from tensorscope.tui.words import words as app_words

SIZES = [(120, 40), (80, 24)]


DIVERGES = """
import torch
w = torch.tensor([1.0, 2.0])
for i in range(400):
    w = w * 10.0
    s = w.sum()
print("done")
"""


async def started(pilot, app: TensorScopeApp) -> None:
    await wait_until(pilot, lambda: app.current_step is not None and app.state == "paused", "the first step")


async def run_on(pilot, app: TensorScopeApp, *keys: str) -> None:
    """Press `keys` (a command) and wait until the script pauses again (or ends)."""
    before = len(app.history)
    await pilot.press(*keys)
    await wait_until(pilot, lambda: app.state not in ("running", "starting")
                     and (len(app.history) > before or app.state != "paused"), f"a pause after {keys}")
    await pilot.pause()


def printed(app: TensorScopeApp) -> str:
    return app.history.output()


async def set_condition(pilot, app: TensorScopeApp, line: int, condition: str) -> None:
    app.source.cursor_line = line
    await pilot.press("b")
    await wait_until(pilot, lambda: isinstance(app.screen, ConditionScreen), "the condition prompt")
    await pilot.press(*condition, "enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, ConditionScreen), "the prompt to close")


@pytest.mark.parametrize("size", SIZES)
async def test_a_condition_pauses_only_when_true(write_script, size):
    app = TensorScopeApp(str(write_script(LINREG)))
    async with app.run_test(size=size) as pilot:
        await started(pilot, app)
        await set_condition(pilot, app, LOOP_LINE, "epoch == 3")
        file = app.source.file
        assert (file, LOOP_LINE) in app.runner.breakpoints
        assert app.source.conditions == {(file, LOOP_LINE): "epoch == 3"}  # ◆ and the condition in Source
        await run_on(pilot, app, "c")
        step = app.current_step
        assert step.line == LOOP_LINE and app.state == "paused"
        assert step.reason is not None and step.reason.kind == "breakpoint"
        assert step.reason.subject == "epoch == 3"
        assert "Epoch 3\n" in printed(app) and "Epoch 4" not in printed(app)  # epoch is 3 here, not before
        assert "epoch == 3" in reason_text(step.reason, step, "en")
        await run_on(pilot, app, "c")  # epoch 4 is not 3: on to the end
        assert app.state == "finished" and "done" in printed(app)


async def test_enter_on_nothing_sets_a_plain_breakpoint_and_b_removes_it(write_script):
    app = TensorScopeApp(str(write_script(LINREG)))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await set_condition(pilot, app, BACKWARD_LINE, "")
        assert (app.source.file, BACKWARD_LINE) in app.runner.breakpoints and app.conditions == {}
        app.source.cursor_line = BACKWARD_LINE
        await pilot.press("b")  # on a breakpoint: removed, nothing asked
        assert not isinstance(app.screen, ConditionScreen)
        assert app.runner.breakpoints == set()


async def test_a_condition_that_is_not_python_is_refused_in_the_prompt(write_script):
    app = TensorScopeApp(str(write_script(LINREG)))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        app.source.cursor_line = LOOP_LINE
        await pilot.press("b", *"epoch ==", "enter")
        assert isinstance(app.screen, ConditionScreen)  # still open, saying why
        assert "Not a Python expression" in str(app.screen.query_one("#cond-error").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConditionScreen), "esc")
        assert app.runner.breakpoints == set()


async def test_a_condition_that_raises_stops_saying_why(write_script):
    app = TensorScopeApp(str(write_script(LINREG)))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await set_condition(pilot, app, LOOP_LINE, "no_such_name > 1")
        await run_on(pilot, app, "c")
        step = app.current_step
        assert step.line == LOOP_LINE and step.reason is not None
        assert step.reason.kind == "condition-error" and "NameError" in step.reason.detail
        assert "no_such_name" in reason_text(step.reason, step, "en")
        await run_on(pilot, app, "c")  # the run is unharmed: it goes on (and stops there again)
        assert app.state == "paused" and app.current_step.line == LOOP_LINE
        assert printed(app).count("Epoch") == 1


@pytest.mark.parametrize("size", SIZES)
async def test_g_runs_to_the_line_under_the_cursor(write_script, size):
    app = TensorScopeApp(str(write_script(LINREG)), lang="zh" if size == (80, 24) else "en")
    async with app.run_test(size=size) as pilot:
        await started(pilot, app)
        app.source.cursor_line = UPDATE_LINE
        await run_on(pilot, app, "g")
        step = app.current_step
        assert step.line == UPDATE_LINE and app.state == "paused"
        assert step.reason is not None and step.reason.kind == "cursor"
        assert printed(app) == ""  # the first pass, before its print


async def select_tensor(pilot, app: TensorScopeApp, name: str) -> None:
    app.tensors.select(name)
    await pilot.pause()
    assert app.tensors.selected_name == name


async def test_w_on_a_tensor_row_stops_where_its_grad_is_written(write_script):
    app = TensorScopeApp(str(write_script(LINREG)))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        app.source.cursor_line = LOOP_LINE
        await run_on(pilot, app, "g")  # w is in scope
        await select_tensor(pilot, app, "w")
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, DataBreakScreen), "the data-breakpoint menu")
        await pilot.press("g")  # stop when w.grad is written or zeroed
        await wait_until(pilot, lambda: not isinstance(app.screen, DataBreakScreen), "the menu to close")
        assert app.stop_specs == ("grad:w",)
        assert "grad:w" in str(app.tensors.border_subtitle)  # listed on the Tensors pane
        await run_on(pilot, app, "c")
        step = app.current_step
        assert step.prev_line == BACKWARD_LINE and step.reason is not None  # backward() wrote w.grad
        assert (step.reason.kind, step.reason.subject) == ("grad", "w")
        await run_on(pilot, app, "c")
        assert app.current_step.prev_line == ZERO_LINE and app.current_step.reason.kind == "grad"
        # the menu again: remove it; the run then goes to its end
        await select_tensor(pilot, app, "w")
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, DataBreakScreen), "the menu")
        await pilot.press("x")
        await wait_until(pilot, lambda: app.stop_specs == (), "the data breakpoint removed")
        await run_on(pilot, app, "c")
        assert app.state == "finished"


async def test_stop_on_nan_pauses_a_diverging_script(write_script):
    app = TensorScopeApp(str(write_script(DIVERGES)), stop_on=["nan"])
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert app.stop_specs == ("nan",)
        await run_on(pilot, app, "c")
        step = app.current_step
        assert app.state == "paused" and step.reason is not None and step.reason.kind == "nan"
        t = step.tensor(step.reason.subject)
        assert t is not None and t.stats is not None and (t.stats.inf or t.stats.nan)


async def test_data_breakpoints_and_conditions_stay_across_a_restart(write_script):
    app = TensorScopeApp(str(write_script(LINREG)), conditions={LOOP_LINE: "epoch == 1"})
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await run_on(pilot, app, "c")
        assert app.current_step.line == LOOP_LINE and printed(app) == "Epoch 1\n"
        await pilot.press("r")
        await wait_until(pilot, lambda: app.state == "paused" and len(app.history) == 1, "the restart")
        await run_on(pilot, app, "c")
        assert app.current_step.line == LOOP_LINE and printed(app) == "Epoch 1\n"
        assert app.current_step.reason.kind == "breakpoint"


async def test_a_bad_stop_on_is_refused():
    with pytest.raises(ValueError, match="expected"):
        stopon.parse("gradw")


def record(path, watches: tuple[str, ...] = ()) -> Trace:
    """The recorded run of `path` (as `tensorscope trace -o lesson.json [--watch ...]` writes it)."""
    from tensorscope.engine import ScriptTarget
    from tensorscope.engine.process import run_headless, spec_for

    outcome = run_headless(spec_for(ScriptTarget.load(str(path)), "record", watches=watches), timeout=60)
    return Trace.from_json(outcome.trace.to_json())


async def test_replay_break_with_a_condition_over_the_recorded_tensors(write_script):
    trace = record(write_script(LINREG))
    app = TensorScopeApp(trace, conditions={BACKWARD_LINE: "loss < 20"})
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await run_on(pilot, app, "c")
        step = app.current_step
        assert step.line == BACKWARD_LINE and step.reason is not None and step.reason.kind == "breakpoint"
        assert step.tensor("loss").stats.mean < 20  # the recorded loss, where the condition first holds
        earlier = [s for s in trace.steps[: step.index] if s.line == BACKWARD_LINE]
        assert all(s.tensor("loss").stats.mean >= 20 for s in earlier)


async def test_replay_condition_on_a_name_not_recorded_says_which_names_it_has(write_script):
    trace = record(write_script(LINREG))
    app = TensorScopeApp(trace, conditions={BACKWARD_LINE: "epoch == 2"})
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await run_on(pilot, app, "c")
        step = app.current_step
        assert step.line == BACKWARD_LINE and step.reason.kind == "condition-error"
        assert "'epoch'" in step.reason.detail and "loss" in step.reason.detail


async def test_replay_condition_on_a_watched_name(write_script):
    trace = record(write_script(LINREG), watches=("epoch",))
    app = TensorScopeApp(trace, conditions={LOOP_LINE: "epoch == 2"})
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await run_on(pilot, app, "c")
        step = app.current_step
        assert step.line == LOOP_LINE and step.reason.kind == "breakpoint"
        assert printed(app).endswith("Epoch 2\n")


async def test_replay_data_breakpoint_on_grad(write_script):
    trace = record(write_script(LINREG))
    app = TensorScopeApp(trace, stop_on=["grad:w"])
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        await run_on(pilot, app, "c")
        step = app.current_step
        assert step.prev_line == BACKWARD_LINE and step.reason == PauseReason("grad", "w", "written")


async def test_without_evaluation_b_sets_a_plain_breakpoint_and_asks_nothing(write_script):
    """(serve without --allow-eval: a condition is code, so none is asked for)"""
    app = TensorScopeApp(str(write_script(LINREG)), allow_eval=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        app.source.cursor_line = BACKWARD_LINE
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(app.screen, ConditionScreen)
        assert (app.source.file, BACKWARD_LINE) in app.runner.breakpoints and app.conditions == {}
        await run_on(pilot, app, "c")
        assert app.current_step.line == BACKWARD_LINE


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_palette_stops_on_nan_and_on_a_flag_and_lists_them(write_script, lang):
    app = TensorScopeApp(str(write_script(LINREG)), lang=lang)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        commands = {c.title: c.callback for c in app.get_system_commands(app.screen)}
        w = app_words(lang)
        commands[w["p_nan"]]()
        commands[w["p_flag"].format(code="device-mismatch")]()
        assert app.stop_specs == ("nan", "flag:device-mismatch")
        assert app.tensors.border_subtitle == w["db_list"].format(specs="nan · flag:device-mismatch")
        commands = {c.title: c.callback for c in app.get_system_commands(app.screen)}
        commands[w["p_nan"] + w["p_on"]]()  # again: off
        assert app.stop_specs == ("flag:device-mismatch",)
        await run_on(pilot, app, "c")  # nothing of the kind in linreg: to the end
        assert app.state == "finished"


async def test_w_change_stops_after_the_line_that_changes_the_tensor(write_script):
    app = TensorScopeApp(str(write_script(LINREG)))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        app.source.cursor_line = LOOP_LINE
        await run_on(pilot, app, "g")
        await select_tensor(pilot, app, "w")
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, DataBreakScreen), "the data-breakpoint menu")
        await pilot.press("c")  # stop when w changes
        await wait_until(pilot, lambda: app.stop_specs == ("change:w",), "the data breakpoint")
        await run_on(pilot, app, "c")
        step = app.current_step
        assert step.prev_line == UPDATE_LINE and step.reason is not None  # `w -= 0.05 * w.grad`, in place
        assert (step.reason.kind, step.reason.subject) == ("changed", "w")


async def test_g_in_a_replay_runs_to_the_cursor(write_script):
    app = TensorScopeApp(record(write_script(LINREG)))
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        app.source.cursor_line = ZERO_LINE
        await run_on(pilot, app, "g")
        step = app.current_step
        assert step.line == ZERO_LINE and step.reason is not None and step.reason.kind == "cursor"
        assert printed(app) == ""
