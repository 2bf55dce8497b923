"""The engine's debugger requests: evaluation in the paused frame (time limit, output kept apart, never
raising into the script), watches, frames up the stack, completion, conditional breakpoints, run to a line,
`breakpoint()`, pauses at a caught exception, post-mortem, evaluation refused, data breakpoints."""

from __future__ import annotations

import queue
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tensorscope.checks import default_checks
from tensorscope.engine import ScriptTarget, Session, evaluating
from tensorscope.engine.forking import forkserver_context
from tensorscope.engine.process import EngineProcess, spec_for
from tensorscope.model import Evaluation, Step

TRAIN = """
import torch

def train_step(w, x):
    y = (w * x).sum()
    return y

w = torch.ones(3, requires_grad=True)
total = 0
for epoch in range(5):
    x = torch.full((3,), float(epoch))
    total = total + train_step(w, x).item()
print("total", total)
"""


class Driver:
    """A Session run interactively on a worker thread, with blocking helpers for its requests."""

    def __init__(self, path: Path, mode: str = "step", **kw: Any) -> None:
        self.session = Session(str(path), **kw)
        self.session.start(mode)  # type: ignore[arg-type]
        self.step: Step | None = self.session.wait(30)

    def ask(self, method: str, *args: Any) -> Any:
        answers: queue.Queue[Any] = queue.Queue()
        getattr(self.session, method)(*args, answers.put)
        return answers.get(timeout=30)

    def eval(self, source: str, frame: int | None = None) -> Evaluation:
        ev = self.ask("evaluate", source, frame)
        assert isinstance(ev, Evaluation)
        return ev

    def go(self, cmd: str) -> Step | None:
        self.step = self.session.command(cmd, 30)  # type: ignore[arg-type]
        return self.step

    def close(self) -> None:
        self.session.stop()
        self.session.join(10)
        assert self.session.internal_errors == []


@pytest.fixture
def drive(write_script: Callable[..., Path]) -> Iterator[Callable[..., Driver]]:
    made: list[Driver] = []

    def start(source: str, mode: str = "step", **kw: Any) -> Driver:
        d = Driver(write_script(source), mode, **kw)
        made.append(d)
        return d

    yield start
    for d in made:
        d.close()


class TestEvaluate:
    def test_values_tensors_errors_and_statements(self, drive):
        d = drive(TRAIN, "continue", breakpoints=[11])
        assert d.step is not None and d.step.line == 11
        assert d.eval("epoch").text == "0" and d.eval("epoch").kind == "value"
        t = d.eval("x")
        assert t.kind == "tensor" and t.tensor is not None and t.tensor.shape == (3,) and t.tensor.name == "x"
        assert d.eval("w * 2").tensor.preview == "[2, 2, 2]"
        assert d.eval("1/0").text == "ZeroDivisionError: division by zero"
        assert d.eval("undefined_name").text == "NameError: name 'undefined_name' is not defined"
        bad = d.eval("w.shape(")
        assert bad.kind == "error" and bad.text.startswith("SyntaxError:")
        assert d.eval("exit(3)").text == "SystemExit: 3"  # never ends the run
        assert d.eval("total = 100").kind == "statement"
        assert d.eval("total").text == "100"
        printed = d.eval("print('hello'); 7")
        assert printed.kind == "statement" and printed.output == "hello\n"
        step = d.go("next")
        assert step is not None and step.line == 9 and step.stdout == ""  # the print stayed the evaluation's
        assert d.eval("total").text.startswith("100")  # the statement's effect is the script's
        kept = d.session.evaluations
        assert len(kept) == 12 and {e.step for e in kept[:11]} == {kept[0].step}
        assert kept[11].step == step.index

    def test_pdb_prompt_forms(self, drive):
        """`p EXPR`, `pp EXPR` and `!STATEMENT` as at pdb's prompt; `p = 3` stays Python (a statement)."""
        d = drive(TRAIN, "continue", breakpoints=[11])
        assert d.eval("p epoch + 1").text == "1"
        assert d.eval("pp epoch * 2").text == "0"
        assert d.eval("!total = 7").kind == "statement" and d.eval("total").text == "7"
        assert d.eval("p = 3").kind == "statement" and d.eval("p").text == "3"

    def test_a_runaway_evaluation_is_stopped_and_the_run_goes_on(self, drive, monkeypatch):
        monkeypatch.setattr(evaluating, "EVAL_SECONDS", 1.0)  # (in this process: the mechanism, sooner)
        d = drive(TRAIN, "continue", breakpoints=[11])
        ev = d.eval("while True: pass")
        assert ev.kind == "timeout" and "stopped after" in ev.text
        assert d.eval("1 + 1").text == "2"
        step = d.go("step")
        assert step is not None and step.function == "train_step"  # the script still steps (3.11 too)

    def test_repr_is_cut(self, drive):
        d = drive(TRAIN, "continue", breakpoints=[11])
        ev = d.eval("'x' * 5000")
        assert ev.kind == "value" and ev.text.endswith("more characters)") and len(ev.text) < 2100

    def test_statement_in_a_function_frame_reaches_its_variable(self, drive):
        d = drive(TRAIN, "continue", breakpoints=[5])
        assert d.step is not None and d.step.function == "train_step"
        assert d.eval("y = y * 0").kind == "statement"
        assert d.eval("float(y.detach())").text == "0.0"
        d.go("finish")
        assert d.eval("total").text == "0.0"  # the caller got the changed y back

    def test_frames_up_the_stack(self, drive):
        d = drive(TRAIN, "continue", breakpoints=[5])
        step = d.step
        assert step is not None and [f.function for f in step.stack] == ["<module>", "train_step"]
        caller = d.ask("select_frame", 0)
        assert caller.selected == 0 and {"w", "x"} <= {t.name for t in caller.tensors}
        assert d.ask("select_frame", 1).selected is None
        assert d.eval("epoch", 0).text == "0"
        assert d.eval("y", 0).text == "NameError: name 'y' is not defined"
        assert d.eval("y", 1).kind == "tensor"
        assert d.ask("select_frame", 7) is None

    def test_completion(self, drive):
        d = drive(TRAIN, "continue", breakpoints=[11])
        assert "train_step" in d.ask("complete", "tr", None)
        assert "total" in d.ask("complete", "to", None)
        attrs = d.ask("complete", "w.gr", None)
        assert "w.grad" in attrs and "w.grad_fn" in attrs


class TestWatches:
    def test_watches_at_every_pause(self, drive):
        d = drive(TRAIN, "continue", breakpoints=[11], watches=["total", "w.sum()", "nope"])
        assert d.step is not None
        total, wsum, nope = d.step.watches
        assert (total.text, wsum.kind, nope.kind) == ("0", "tensor", "error")
        assert wsum.tensor is not None and wsum.tensor.preview == "3"
        d.go("continue")
        assert d.step is not None and d.step.watches[0].text == "0.0"
        now = d.ask("set_watches", ("epoch",))
        assert [w.text for w in now] == ["1"]

    def test_record_fills_every_step(self, write_script):
        trace = Session(str(write_script(TRAIN)), watches=["total"]).record()
        assert all(len(s.watches) == 1 for s in trace.steps)
        assert trace.steps[0].watches[0].kind == "error"  # (not defined yet)
        assert trace.steps[-1].watches[0].text == "30.0"


class TestBreakpoints:
    def test_a_condition_pauses_only_when_true(self, drive, write_script):
        d = drive(TRAIN, "continue", conditions=[(str(write_script(TRAIN)), 11, "epoch == 3")])
        assert d.step is not None and d.step.line == 11 and d.eval("epoch").text == "3"
        assert d.step.reason is not None and d.step.reason.kind == "breakpoint"
        assert d.step.reason.subject == "epoch == 3"
        assert d.go("continue") is not None and d.step.event == "end"

    def test_a_condition_that_raises_pauses_saying_why(self, drive, write_script):
        d = drive(TRAIN, "continue", conditions=[(str(write_script(TRAIN)), 11, "epoch == missing")])
        assert d.step is not None and d.step.line == 11
        reason = d.step.reason
        assert reason is not None and reason.kind == "condition-error"
        assert reason.detail == "NameError: name 'missing' is not defined"

    def test_a_tensor_condition_with_many_values_pauses_saying_why(self, drive, write_script):
        d = drive(TRAIN, "continue", conditions=[(str(write_script(TRAIN)), 11, "w > 0")])
        assert d.step is not None and d.step.reason is not None and d.step.reason.kind == "condition-error"
        assert "ambiguous" in d.step.reason.detail

    def test_run_to_a_line(self, drive):
        d = drive(TRAIN)
        d.session.run_to(12)
        d.step = d.session.wait(30)
        assert d.step is not None and d.step.line == 12 and d.step.reason is not None
        assert d.step.reason.kind == "cursor"
        assert d.go("continue") is not None and d.step.event == "end"  # the cursor line is forgotten

    def test_breakpoint_call_pauses_at_the_next_line(self, drive):
        d = drive("import torch\nx = torch.ones(2)\nbreakpoint()\ny = x + 1\nprint(y)\n", "continue")
        assert d.step is not None and d.step.line == 4 and d.step.reason is not None
        assert d.step.reason.kind == "breakpoint-call"
        assert sys.breakpointhook is sys.__breakpointhook__  # ours stood in only while that line ran


class TestBreakpointCallHeadless:
    def test_check_and_trace_ignore_it(self, write_script):
        path = write_script("x = 1\nbreakpoint()\nprint('after', x)\n")
        for trace in (Session(str(path)).record(), Session(str(path)).run()):
            assert trace.completed and trace.stdout == "after 1\n"

    def test_a_script_hook_is_the_scripts(self, write_script):
        path = write_script("import sys\nsys.breakpointhook = lambda: print('mine')\nbreakpoint()\n")
        try:
            assert Session(str(path)).record().stdout == "mine\n"
        finally:
            sys.breakpointhook = sys.__breakpointhook__  # (the script ran in this process)
        assert subprocess.run([sys.executable, str(path)], capture_output=True, text=True).stdout == "mine\n"


RAISES = """
def risky(n):
    return 10 // n

out = []
for n in (2, 0, 5):
    try:
        out.append(risky(n))
    except ZeroDivisionError:
        out.append(None)
print(out)
risky(0)
"""


class TestExceptions:
    def test_pauses_where_a_caught_exception_is_raised_then_post_mortem(self, drive):
        d = drive(RAISES, "continue")
        assert d.step is not None and d.step.line == 2 and d.step.function == "risky"
        assert d.step.reason is not None and d.step.reason.kind == "raised"
        assert d.step.reason.subject == "ZeroDivisionError"
        assert d.eval("n").text == "0"
        d.go("continue")  # the uncaught one: no pause where it is raised, the run ends there, post-mortem
        step = d.step
        assert step is not None and step.event == "exception" and step.line == 2
        assert step.reason is not None and step.reason.kind == "post-mortem"
        assert d.eval("n").text == "0"
        assert d.eval("out", 0).text == "[5, None, 2]"
        assert d.ask("select_frame", 0).selected == 0
        assert d.go("continue") is None
        assert d.session.trace is not None and d.session.trace.end_reason == "exception"
        assert len(d.session.trace.evaluations) == 3


class TestRefused:
    def test_allow_eval_false_refuses_everything(self, drive, write_script):
        path = str(write_script(TRAIN))
        d = drive(TRAIN, "continue", breakpoints=[11], allow_eval=False, watches=["total"],
                  conditions=[(path, 12, "True")])
        assert d.eval("1 + 1").kind == "refused"
        assert d.step is not None and d.step.watches[0].kind == "refused"
        assert d.ask("complete", "w.gr", None) == ()


class TestQuiet:
    def test_an_evaluated_optimizer_step_is_not_flagged(self, drive):
        script = """
            import torch
            w = torch.ones(3, requires_grad=True)
            opt = torch.optim.SGD([w], lr=0.1)
            loss = (w * 2).sum()
            loss.backward()
            print(w.grad)
        """
        d = drive(script, "continue", breakpoints=[6], monitors=default_checks())
        again = d.eval("(w * 3).sum().backward()")  # grads accumulate: no flag for the user's own act
        assert again.kind == "value" and again.text == "None"
        assert d.eval("opt.step()").text == "None"
        step = d.go("next")
        assert step is not None and step.flags == ()


class TestDataBreakpoints:
    def test_grad_written(self, drive):
        script = """
            import torch
            w = torch.ones(3, requires_grad=True)
            loss = (w * 2).sum()
            loss.backward()
            print(w.grad)
        """
        d = drive(script, "continue", stop_on=["grad:w"])
        assert d.step is not None and d.step.line == 5  # just after backward() wrote it
        assert d.step.reason is not None and (d.step.reason.kind, d.step.reason.subject) == ("grad", "w")

    def test_nan(self, drive):
        script = """
            import torch
            a = torch.zeros(2)
            b = a / a
            print(b)
        """
        d = drive(script, "continue", stop_on=["nan"])
        assert d.step is not None and d.step.line == 4 and d.step.reason is not None
        assert (d.step.reason.kind, d.step.reason.subject) == ("nan", "b")

    def test_set_while_paused_counts_the_line_about_to_run(self, drive):
        d = drive(TRAIN, "continue", breakpoints=[10])
        d.go("next")
        d.go("next")
        d.go("next")  # line 10 again: x is the first pass's
        assert d.step is not None and d.step.line == 10
        d.session.remove_breakpoint(10)
        d.session.set_stop_on(["change:x"])
        d.go("continue")
        assert d.step is not None and d.step.line == 11 and d.step.reason is not None
        assert (d.step.reason.kind, d.step.reason.subject, d.step.reason.detail) == ("changed", "x", "values")

    def test_bad_spec(self, write_script):
        with pytest.raises(ValueError, match="expected change:NAME"):
            Session(str(write_script("x = 1\n")), stop_on=["oops"])


class TestEngineProcess:
    """Through the engine child: the script on the process's main thread."""

    def run(self, path: Path, lines: tuple[int, ...] = ()) -> tuple[EngineProcess, queue.Queue[Any]]:
        steps: queue.Queue[Any] = queue.Queue()
        engine = EngineProcess(forkserver_context())
        target = ScriptTarget.load(str(path))
        spec = spec_for(target, "interactive", breakpoints=[(target.display, n) for n in lines])
        engine.begin(spec, on_step=steps.put, on_end=steps.put)
        return engine, steps

    def ask(self, engine: EngineProcess, method: str, *args: Any) -> Any:
        answers: queue.Queue[Any] = queue.Queue()
        getattr(engine, method)(*args, answers.put)
        return answers.get(timeout=30)

    def test_a_blocking_evaluation_is_interrupted(self, write_script):
        engine, steps = self.run(write_script(TRAIN), (11,))
        try:
            engine.send("continue")
            first = steps.get(timeout=30)
            while first.line != 11:
                first = steps.get(timeout=30)
            ev = self.ask(engine, "evaluate", "import time; time.sleep(60)", None)
            assert ev.kind == "timeout"
            assert self.ask(engine, "evaluate", "epoch", None).text == "0"
            engine.send("next")
            assert steps.get(timeout=30).line == 9
        finally:
            engine.kill()

    def test_post_mortem_and_requests_after_the_end(self, write_script):
        engine, steps = self.run(write_script("x = 3\nraise ValueError(x)\n"))
        try:
            steps.get(timeout=30)
            engine.send("continue")
            step = steps.get(timeout=30)
            assert step.event == "exception" and step.reason.kind == "post-mortem"
            assert self.ask(engine, "evaluate", "x * 2", None).text == "6"
            engine.send("continue")
            result = engine.join(30)
            assert result is not None and result.trace.end_reason == "exception"
            assert [e.text for e in result.trace.evaluations] == ["6"]
        finally:
            engine.kill()
