"""Replay: a recorded trace in the step-debugger shows exactly what the live run showed, with no script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_runs import tensorscope_here

from tensorscope.checks import default_checks
from tensorscope.engine import ScriptTarget, Session
from tensorscope.model import Trace, _to_json
from tensorscope.screenshot import TITLE, drive
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.replay import ReplayRunner
from tensorscope.tui.runner import Runner

SIZE = (120, 40)


def recorded(script: str) -> Trace:
    """What `tensorscope trace SCRIPT -o lesson.json` writes, read back from its JSON."""
    trace = Session(ScriptTarget.load(script), monitors=default_checks()).record()
    return Trace.from_json(trace.to_json(indent=1))


async def screens(app: TensorScopeApp, rounds: list[dict[str, Any]]) -> tuple[list[str], list[Any]]:
    """Drive `app` through each round (as `tensorscope screenshot` does) and export the screen after each;
    also the Steps it showed, as JSON-ready dicts."""
    shots = []
    async with app.run_test(size=SIZE) as pilot:
        for how in rounds:
            await drive(pilot, app, **how)
            shots.append(app.export_screenshot(title=TITLE, simplify=True))
        steps = [_to_json(s) for s in app.history.steps]
    return shots, steps


async def live_and_replay(script: str, rounds: list[dict[str, Any]], **options: Any) -> None:
    """The same keys on the live run and on its recording give the same Steps and the same screens."""
    live_shots, live_steps = await screens(TensorScopeApp(script, **options), rounds)
    replay = TensorScopeApp.from_trace(recorded(script), **options)
    assert isinstance(replay.runner, ReplayRunner)
    replay_shots, replay_steps = await screens(replay, rounds)
    assert replay_steps == live_steps
    for n, (live, replayed) in enumerate(zip(live_shots, replay_shots, strict=True)):
        assert replayed == live, f"the screens differ after round {n + 1}: {rounds[n]}"


class TestSameAsLive:
    """Snapshots (SVG text, nothing masked) of live and replay after the same key presses are identical."""

    async def test_linreg_after_5_then_12_more_lines(self):
        """n×5, then n×12: the loop's first backward(), update and zeroing, flags and output alike."""
        await live_and_replay("linreg", [{"steps": 5}, {"steps": 12}])

    async def test_forgot_zero_grad_at_its_flag_and_stepping_back(self):
        """At the grad-accumulation flag (explained in the Inspector), then ← twice and → once."""
        await live_and_replay("forgot_zero_grad",
                              [{"until_flag": "grad-accumulation"}, {"press": "left left right"}])

    async def test_step_into_finish_and_continue_in_chinese(self):
        """s into forward(), f out of it, c to the end: the pauses the live engine makes, in Chinese."""
        await live_and_replay("mlp_optim", [{"steps": 12}, {"press": "s s s"}, {"press": "f n s"},
                                            {"press": "c"}], lang="zh")

    async def test_continue_to_an_exception(self):
        """c runs to the error: the exception step, its flag and traceback, the run over."""
        await live_and_replay("shape_mismatch", [{"press": "c"}, {"press": "c"}])

    async def test_stepping_over_a_call_that_prints_and_is_flagged(self, write_script):
        """n over a call of the user's: the flags and output raised inside it land on the next pause."""
        script = write_script("""
            import torch

            def train_step(w):
                loss = (w * 3).sum()
                loss.backward()
                with torch.no_grad():
                    w -= 0.1 * w.grad
                print(f"loss {loss.item():.2f}")

            w = torch.ones(2, requires_grad=True)
            for epoch in range(3):
                train_step(w)
            print("done")
            """)
        rounds = [{"steps": 6}, {"press": "s n f"}, {"press": "n n"}, {"press": "c"}]
        await live_and_replay(str(script), rounds)

    async def test_breakpoint_stops_continue(self):
        """A breakpoint set before the run: c stops there in both, then again in the next epoch."""
        await live_and_replay("linreg", [{"press": "c"}, {"press": "c"}], breakpoints=[31])


async def test_restart_replays_from_the_top():
    """r in a replay starts the recording again at its first step; stepping works as before."""
    app = TensorScopeApp.from_trace(recorded("linreg"))
    async with app.run_test(size=SIZE) as pilot:
        await drive(pilot, app, steps=4)
        fourth = app.current_step
        await drive(pilot, app, press="r")
        assert len(app.history) == 1 and app.current_step is not None and app.current_step.index == 0
        await drive(pilot, app, steps=4)
        assert app.current_step == fourth


class TestAnotherMachine:
    """A lesson recorded with `tensorscope trace -o` replays with the script gone."""

    def record(self, write_script, tmp_path: Path) -> Path:
        script = write_script('''
            """Forgot zero_grad: the second backward() adds to a stale gradient."""
            import torch
            w = torch.ones(2, requires_grad=True)
            for step in range(3):
                loss = (w * 3).sum()
                loss.backward()
                with torch.no_grad():
                    w -= 0.1 * w.grad
                print(f"step {step}, loss {loss.item():.2f}")
            ''', name="lesson_script.py")
        proc = tensorscope_here("trace", script.name, "-o", "lesson.json", cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr  # flagged: grad-accumulation
        script.unlink()
        return tmp_path / "lesson.json"

    async def test_replay_without_the_script(self, write_script, tmp_path):
        """Source, tensors, flags, output and the end of the run, all from the JSON file."""
        lesson = self.record(write_script, tmp_path)
        app = TensorScopeApp.from_trace(Trace.from_json(lesson.read_text(encoding="utf-8")))
        async with app.run_test(size=SIZE) as pilot:
            await drive(pilot, app, steps=0)
            assert app.query_one("#narration").sentences[0] == (
                "Forgot zero_grad: the second backward() adds to a stale gradient.")
            await drive(pilot, app, until_flag="grad-accumulation")
            step = app.current_step
            # the flag shows as the update uses the stale sum: ✓ on `w -= ...`, then the `with` line exits
            assert step is not None and (step.prev_line, step.line) == (8, 7)
            assert "loss.backward()" in app.source.lines[5]
            assert [f.code for f in app.flags.flags] == ["grad-accumulation"]
            assert app.tensors.get_row("w")[0].plain == "w"
            assert "step 0, loss 6.00" in app.output.text
            await drive(pilot, app, press="c c")
            assert app.state == "finished"
            assert "step 2, loss" in app.output.text

    def test_replay_command_rejects_what_is_not_a_trace(self, tmp_path):
        """`tensorscope replay` on a missing file or a JSON file that is no trace: one clear line, exit 2."""
        (tmp_path / "other.json").write_text('{"hello": 1}', encoding="utf-8")
        cases = [("missing.json", "cannot read missing.json"), ("other.json", "not a tensorscope trace")]
        for name, says in cases:
            proc = subprocess.run([sys.executable, "-m", "tensorscope", "replay", name], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 2
            assert says in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("cmd", ["step", "next", "finish", "continue"])
def test_every_command_ends_at_the_end_of_the_recording(cmd):
    """Pressing any stepping key over and over walks to the last step and then ends, never further."""
    trace = recorded("autograd_basics")

    class Collect:
        def __init__(self) -> None:
            self.messages: list[Any] = []

        def post_message(self, message: Any) -> bool:
            self.messages.append(message)
            return True

    app = Collect()
    runner = ReplayRunner(trace, app)  # type: ignore[arg-type]
    runner.start()
    for _ in range(len(trace.steps) + 2):
        runner.send(cmd)  # type: ignore[arg-type]
    *messages, end = app.messages
    steps = [s for m in messages for s in (m.steps if isinstance(m, Runner.StepsRan) else [m.step])]
    indexes = [s.index for s in steps]  # the recording's own numbers, as the live engine's
    assert indexes == sorted(set(indexes)) and set(indexes) <= {s.index for s in trace.steps}
    if cmd != "next":  # finish and continue keep every step they run through, as live
        assert indexes == [s.index for s in trace.steps]
    assert steps[-1].event == "end" and end.trace is trace
    assert "".join(s.stdout for s in steps) == trace.stdout
    assert [f for s in steps for f in s.flags] == list(trace.flags)
