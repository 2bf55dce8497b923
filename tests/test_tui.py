"""The terminal UI, driven as a user would: keys in, panes out (Textual pilot, 140x44)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from linreg_script import BACKWARD_LINE, LINREG
from pilot_support import wait_until

from tensorscope.checks import codes
from tensorscope.checks.base import Check
from tensorscope.diff import narrate
from tensorscope.model import Flag, Stats, Step, TensorView
from tensorscope.tui import runner as runner_module
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.history import History
from tensorscope.tui.output import printable, wrap
from tensorscope.tui.tensors import cells

SIZE = (140, 44)
REPO = Path(__file__).resolve().parent.parent






async def started(pilot, app: TensorScopeApp) -> Step:
    await wait_until(pilot, lambda: app.current_step is not None and app.state == "paused", "the first step")
    assert app.current_step is not None
    return app.current_step


async def press(pilot, app: TensorScopeApp, key: str) -> Step:
    """Press a stepping key and wait for the engine's next pause (or the end)."""
    before = len(app.history)
    await pilot.press(key)
    await wait_until(pilot, lambda: app.state != "running" and (len(app.history) > before or app.state
                                                                  not in ("paused", "starting")), key)
    await pilot.pause()
    assert app.current_step is not None
    return app.current_step


def table_row(app: TensorScopeApp, name: str) -> dict[str, str]:
    table = app.tensors
    keys = [c.key for c in table.columns]
    return dict(zip(keys, (cell.plain for cell in table.get_row(name)), strict=True))


class TestTensorsPane:
    async def test_w_shows_its_grad_after_backward(self, write_script):
        """After loss.backward() the table's `w` row shows w.grad, and the Inspector follows w."""
        app = TensorScopeApp(str(write_script(LINREG)), breakpoints=(BACKWARD_LINE,))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            step = await press(pilot, app, "c")
            assert step.line == BACKWARD_LINE
            assert table_row(app, "w")["grad"] == "—"  # a leaf that requires grad, .grad still None
            step = await press(pilot, app, "n")
            w = step.tensor("w")
            assert w is not None and w.grad is not None
            row = table_row(app, "w")
            assert row["grad"] == w.grad.preview == "[[-35]]"
            assert row["requires_grad"] == "✓" and row["shape"] == "1×1"
            assert "w" in app.tensors.changed
            assert "backward() wrote w.grad = [[-35]]" in " ".join(app.query_one("#narration").sentences)
            assert app.inspector.showing in ("tensor:w", "tensor:b")

    async def test_changed_cells_follow_the_frame(self, write_script):
        """A cell is highlighted only when it differs from the last pause in the same function."""
        app = TensorScopeApp(str(write_script(LINREG)), breakpoints=(BACKWARD_LINE,))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await press(pilot, app, "c")
            await press(pilot, app, "n")
            assert {"w", "b"} <= set(app.tensors.changed)
            assert "x" not in app.tensors.changed


    async def test_inspector_draws_the_autograd_graph_down_to_the_leaves(self, write_script):
        """Picking `loss` in the table shows its graph as a tree ending at the leaves w and b."""
        app = TensorScopeApp(str(write_script(LINREG)), breakpoints=(BACKWARD_LINE,))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await press(pilot, app, "c")
            app.tensors.focus()
            await pilot.press("home")
            for _ in range(len(app.current_step.tensors)):
                if app.tensors.selected_name == "loss":
                    break
                await pilot.press("down")
            await pilot.pause()
            assert app.inspector.showing == "tensor:loss"
            text = str(app.inspector.body.render())
            assert "loss ← MeanBackward0" in text
            assert "└─ PowBackward0" in text and "├─ MmBackward0" in text
            assert "● w" in text and "└─ ● b" in text


class TestHistory:
    async def test_step_back_restores_the_previous_step_exactly(self, write_script):
        """← shows the previous Step as it was (tensors, source marks); → comes back without running."""
        app = TensorScopeApp(str(write_script(LINREG)))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            for _ in range(12):
                await press(pilot, app, "n")
            recorded = list(app.history.steps)
            later = app.current_step
            await pilot.press("left")
            await pilot.pause()
            earlier = recorded[-2]
            assert app.current_step is earlier
            assert app.source.next_line == earlier.line
            assert app.tensors.row_keys == [t.name for t in earlier.tensors]
            for t in earlier.tensors:
                shown = table_row(app, t.name)
                assert shown == {k: v for k, v in cells(t).items() if k in shown}
            assert app.history.output() == "".join(s.stdout for s in recorded[:-1])
            await pilot.press("right")
            await pilot.pause()
            assert app.current_step is later and len(app.history) == len(recorded)
            await press(pilot, app, "right")  # at the newest step → runs the next line
            assert len(app.history) == len(recorded) + 1

    def test_history_derives_output_flags_and_losses(self):
        """The Output, Flags and loss curve at step i come from steps 0..i only."""
        h = History()
        flag = Flag("x-code", "warning", 3, "<module>", "m", "h")
        loss = TensorView("loss", (), "float32", "cpu", True, False, "MeanBackward0", 0, 1, preview="2.5",
                          stats=Stats(2.5, 2.5, 2.5, 0.0))
        h.append(Step(0, "s.py", 1, "<module>", 0, stdout="Loss: 9\n"))
        h.append(Step(1, "s.py", 2, "<module>", 0, tensors=(loss,), flags=(flag,), stdout="x\n"))
        h.go_last()
        assert h.output() == "Loss: 9\nx\n" and h.flags() == [(1, flag)]
        assert h.loss_series() == ("loss", [(1, 2.5)])
        h.back()
        assert h.output() == "Loss: 9\n" and h.flags() == [] and h.loss_series() == (None, [])


class TestBreakpoints:
    async def test_continue_stops_at_breakpoints_set_three_ways(self, write_script):
        """--break, `b` at the source cursor, and a click on a line number all stop `c` there."""
        app = TensorScopeApp(str(write_script(LINREG)), breakpoints=(9,))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            assert (await press(pilot, app, "c")).line == 9
            app.source.focus()
            for _ in range(5):  # cursor follows ▶ (line 9): down to line 14
                await pilot.press("down")
            await pilot.press("b", "enter")  # (enter: no condition)
            assert (app.source.file, 14) in app.runner.breakpoints
            assert (await press(pilot, app, "c")).line == 14
            # the click: line 16's number, in the gutter (source scrolled to top: row = line - 1)
            app.source.scroll_to(y=0, animate=False, immediate=True)
            await pilot.pause()
            await pilot.click("#source", offset=(3, 1 + 15))
            assert (app.source.file, 16) in app.runner.breakpoints
            assert 16 in app.source.breakpoints
            assert (await press(pilot, app, "c")).line == 16
            await pilot.press("b")  # cursor is on ▶ = 16: clears it
            await pilot.press("b", "enter")  # and sets it again (no condition)
            await pilot.press("b")
            assert (app.source.file, 16) not in app.runner.breakpoints
            assert (await press(pilot, app, "c")).line == 9  # next epoch

    async def test_a_blank_line_takes_no_breakpoint(self, write_script):
        app = TensorScopeApp(str(write_script("import torch\n\nx = 1\n")))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            app.source.cursor_line = 2
            await pilot.press("b")
            assert app.runner.breakpoints == set()


class _MarkCheck(Check):
    """Flags a line that assigns to `bad` once it has run (a stand-in for a real pitfall check)."""

    code = "test-mark"
    wants_lines = True

    def __init__(self) -> None:
        self.last: int | None = None

    def on_line(self, ctx, frame: types.FrameType, line: int) -> None:
        if self.last is not None and ctx.source_line(frame, self.last).strip().startswith("bad ="):
            self.flag(ctx, "warning", {"name": "bad"}, tensors=("bad",), line=self.last)
        self.last = line


def mark_checks() -> list[Check]:
    """The checks of the engine process in the test below (imported there by name)."""
    return [_MarkCheck()]


FLAGGED = """
import torch
a = torch.ones(2)
bad = a * 2
c = a + 1
print("end")
"""


class TestFlags:
    async def test_continue_stops_at_a_new_warning_and_explains_it(self, write_script, monkeypatch):
        """`c` stops after a flagged line; the flag is listed, its line coloured, its text inspected."""
        monkeypatch.setattr(runner_module.Runner, "checks", f"{__name__}:mark_checks")
        app = TensorScopeApp(str(write_script(FLAGGED)))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            step = await press(pilot, app, "c")
            assert [f.code for f in step.flags] == ["test-mark"]
            assert step.prev_line == 3 and app.state == "paused"
            assert app.source.flag_lines == {3: "warning"}
            assert app.flags.flags[0].code == "test-mark"
            assert app.inspector.showing == "flag:test-mark"
            await press(pilot, app, "n")
            assert app.current_step.flags == () and app.flags.flags[0].code == "test-mark"
            await pilot.press("left")
            await pilot.press("left")
            await pilot.pause()
            assert app.flags.flags == []  # flags newer than the Step on screen are not listed

    @pytest.mark.skipif("grad-accumulation" not in codes(), reason="grad-accumulation check not registered")
    async def test_forgot_zero_grad_is_flagged_at_backward(self):
        """scenarios/forgot_zero_grad.py: `c` stops at epoch 2's loss.backward() with grad-accumulation."""
        script = REPO / "scenarios" / "forgot_zero_grad.py"
        lines = script.read_text().splitlines()
        backward = 1 + next(i for i, s in enumerate(lines) if s.strip() == "loss.backward()")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            step = await press(pilot, app, "c")
            flag = next(f for f in step.flags if f.code == "grad-accumulation")
            assert flag.line == backward and flag.severity == "warning"
            assert app.source.flag_lines.get(backward) == "warning"
            assert app.inspector.showing == "flag:grad-accumulation"


class TestEndings:
    async def test_finished_script_keeps_its_final_state(self, write_script):
        app = TensorScopeApp(str(write_script(LINREG)))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            step = await press(pilot, app, "c")
            await wait_until(pilot, lambda: app.state == "finished", "the end")
            assert step.event == "end" and app.current_step is step
            assert "finished" in str(app.query_one("#status").render())
            assert "Epoch 3\n" in app.output.text
            name, curve = app.history.loss_series()  # backward()'s tensor, from the steps `c` ran through
            assert name == "loss"
            assert [round(v, 4) for _, v in curve] == [41.0, 1.1288, 0.0433, 0.0134, 0.0122]
            await pilot.press("n")  # nothing to run: the screen stays
            await pilot.pause()
            assert app.current_step is step
            await pilot.press("left")
            await pilot.pause()
            assert app.current_step is app.history.steps[-2]

    async def test_exception_is_shown_at_its_line_and_the_app_stays_usable(self, write_script):
        script = write_script("import torch\na = torch.ones(3, 4)\nb = torch.ones(5, 6)\nc = a @ b\n")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            step = await press(pilot, app, "c")
            await wait_until(pilot, lambda: app.state == "exception", "the exception")
            assert step.event == "exception" and step.exception is not None
            assert step.exception.type == "RuntimeError" and step.line == 4
            assert app.source.raised_line == 4
            assert app.inspector.showing == "exception"
            assert "RuntimeError" in str(app.inspector.body.render())
            await pilot.press("left")
            await pilot.pause()
            assert app.current_step is app.history.steps[-2]  # (c keeps every step it ran)
            assert app.current_step.event == "line" and app.current_step.line == 4  # (before it ran)
            await pilot.press("r")
            await wait_until(pilot, lambda: app.state == "paused" and len(app.history) == 1, "the restart")
            assert app.current_step.line == 1 and app.runner.run == 2

    async def test_restart_runs_and_shows_the_script_as_edited(self, write_script):
        """Edit the file, press r: the new run steps through the new text, and every pane shows it."""
        script = write_script("x = 1\ny = x + 1\nprint(y)\n")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await press(pilot, app, "n")
            script.write_text("x = 10\ny = x * 3\nprint('edited', y)\n", encoding="utf-8")
            await pilot.press("r")
            await wait_until(pilot, lambda: app.state == "paused" and app.runner.run == 2, "the restart")
            assert app.source.lines == ["x = 10", "y = x * 3", "print('edited', y)"]
            step = await press(pilot, app, "n")
            assert step.stack[-1].code == "y = x * 3" and step.line == 2
            await press(pilot, app, "c")
            await wait_until(pilot, lambda: app.state == "finished", "the end")
            assert app.output.text == "edited 30\n"

    async def test_input_gets_an_empty_stdin_and_an_explanation(self, write_script):
        app = TensorScopeApp(str(write_script('name = input("name? ")\nprint(name)\n')))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            step = await press(pilot, app, "c")
            await wait_until(pilot, lambda: app.state == "exception", "EOFError")
            assert step.exception is not None and step.exception.type == "EOFError"
            assert "input()" in str(app.inspector.body.render())
            assert app.output.text == "name? "

    async def test_quit_works_while_the_script_loops_forever(self, write_script):
        script = write_script("import torch\nx = torch.zeros(2)\nwhile True:\n    x = x + 1\n")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await pilot.press("c")
            await pilot.pause(0.2)
            assert app.state == "running"
            session = app.runner.session
            await pilot.press("q")
        assert session is not None
        trace = session.join(5)
        assert trace is not None and trace.end_reason == "stopped"


    async def test_keys_pressed_while_running_are_queued_in_order(self, write_script):
        """Presses while a slow line runs are kept and run in order once it pauses: none is dropped."""
        script = write_script("import time\ntime.sleep(0.5)\nx = 1\ny = 2\nz = 3\nprint('end')\n")
        app = TensorScopeApp(str(script))
        notices: list[object] = []
        app.notify = lambda message, *args, **kwargs: notices.append(message)  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await pilot.press("n", "n", "n", "n")  # the 3rd and 4th while line 2 sleeps
            await wait_until(pilot, lambda: app.current_step.line == 5 and app.state == "paused", "line 5")
            assert [s.line for s in app.history.steps] == [1, 2, 3, 4, 5]
            assert notices == []  # no "is running" notice: the presses were queued, not refused

    async def test_thirty_presses_are_thirty_steps(self, write_script):
        """30 presses of n in a row advance exactly 30 steps, however fast they come."""
        script = write_script("import torch\nx = torch.zeros(3)\nfor i in range(100):\n    x += 1\n")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            first = await started(pilot, app)
            await pilot.press(*["n"] * 30)
            await wait_until(pilot, lambda: app.state == "paused" and not app._queued
                             and app.current_step.index == first.index + 30, "30 steps")
            await pilot.pause()
            assert app.current_step.index == first.index + 30 and len(app.history) == 31

    async def test_ctrl_c_interrupts_a_running_loop(self, write_script):
        """`c` on an endless loop, then Ctrl+C: the script pauses inside the loop, and can step on."""
        script = write_script("n = 0\nwhile True:\n    n += 1\n")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await pilot.press("c")
            await wait_until(pilot, lambda: app.state == "running", "the loop to run")
            await pilot.press("ctrl+c")
            await wait_until(pilot, lambda: app.state == "paused" and app.current_step.line in (2, 3),
                             "the pause inside the loop")
            line = app.current_step.line
            await pilot.press("n")
            await wait_until(pilot, lambda: app.state == "paused" and app.current_step.line != line, "n")

    async def test_quit_leaves_no_engine_process(self, write_script):
        """q while the script runs: the app exits and its engine process is gone."""
        import os

        script = write_script("n = 0\nwhile True:\n    n += 1\n")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            pid = app.runner.session.pid
            assert pid is not None
            await pilot.press("c")
            await pilot.press("q")
        app.runner.session.join(10)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

class TestScreen:
    async def test_panes_fit_without_overlap_at_80x24(self, write_script):
        """A small terminal still shows every pane, side by side or stacked, never on top of each other."""
        app = TensorScopeApp(str(write_script(LINREG)))
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot, app)
            await press(pilot, app, "n")
            panes = ("source", "tensors", "inspector", "flags", "output")
            regions = {p: app.query_one(f"#{p}").region for p in panes}
            for name, region in regions.items():
                assert region.width >= 20 and region.height >= 4, name
                assert app.screen.region.contains_region(region), name
            names = list(regions)
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    assert not regions[a].overlaps(regions[b]), (a, b)

    async def test_help_palette_and_language(self, write_script):
        app = TensorScopeApp(str(write_script(LINREG)), lang="zh")
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            assert "已暂停" in str(app.query_one("#status").render())
            labels = [str(c.label) for c in app.tensors.columns]
            assert labels[:2] == ["名称", "形状"] and "grad_fn" in labels  # PyTorch's own words stay
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert {"下一行", "步入", "继续", "重新运行", "设置/取消断点"} <= set(titles)
            await pilot.press("question_mark")
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("n")  # the debugger's keys wait while help is open
            assert len(app.history) == 1
            await pilot.press("escape")
            assert type(app.screen).__name__ != "HelpScreen"
            app.action_toggle_language()
            assert "paused" in str(app.query_one("#status").render())
            assert [str(c.label) for c in app.tensors.columns][:2] == ["name", "shape"]


class TestWords:
    def test_output_shows_escape_codes_without_obeying_them(self):
        assert printable("\x1b[31mred\x1b[0m\x07\n") == "␛[31mred␛[0m^G\n"
        assert printable("10%\r50%\r100%\n") == "100%\n"

    def test_output_lines_wrap_never_cut(self):
        assert wrap("a" * 25 + "\nshort", 10) == "aaaaaaaaaa\naaaaaaaaaa\naaaaa\nshort"
        assert wrap("中文" * 6, 10).split("\n") == ["中文中文中", "文中文中文", "中文"]  # wide: 2 cells each

    def test_narration_in_chinese(self, write_script):
        from tensorscope.engine import Session

        trace = Session(str(write_script(LINREG))).record()
        steps = list(trace.steps)
        i = next(i for i, s in enumerate(steps) if s.prev_line == BACKWARD_LINE)
        before, after = steps[i - 1], steps[i]
        assert narrate(before, after, "zh")[0] == "backward() 写入 w.grad = [[-35]] 和 b.grad = [-12]"
        assert narrate(before, after, "en")[0] == "backward() wrote w.grad = [[-35]] and b.grad = [-12]"
