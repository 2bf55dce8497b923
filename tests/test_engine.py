"""The engine: stepping semantics, tensor collection, output, exceptions, exits, argv."""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from tensorscope.engine import Monitor, ScriptError, ScriptTarget, Session
from tensorscope.model import Step, Trace

LOOP = """
import torch

def double(x):
    y = x * 2
    return y

total = 0
for i in range(3):
    total = total + i
    z = double(torch.tensor([float(i)]))
print("done", total)
"""


def lines(steps: list[Step]) -> list[int]:
    return [s.line for s in steps]


class TestStepping:
    """step / next / finish / continue / breakpoints behave as in pdb."""

    def drive(self, path: Path, commands: list[str], **kw: object) -> list[Step]:
        session = Session(str(path), **kw)  # type: ignore[arg-type]
        session.start()
        steps = [session.wait(10)]
        for cmd in commands:
            step = session.command(cmd, 10)  # type: ignore[arg-type]
            if step is None:
                break
            steps.append(step)
        session.stop()
        session.join(5)
        assert session.internal_errors == []
        return [s for s in steps if s is not None]

    def test_step_enters_user_functions(self, write_script):
        steps = self.drive(write_script(LOOP), ["step"] * 8)
        assert lines(steps) == [1, 3, 7, 8, 9, 10, 4, 5, 5]
        assert [s.function for s in steps][6:] == ["double", "double", "double"]
        assert steps[6].depth == 1 and steps[5].depth == 0
        assert steps[8].event == "return"
        assert [f.function for f in steps[6].stack] == ["<module>", "double"]

    def test_next_steps_over_calls(self, write_script):
        steps = self.drive(write_script(LOOP), ["next"] * 7)
        assert lines(steps) == [1, 3, 7, 8, 9, 10, 8, 9]
        assert all(s.function == "<module>" for s in steps)

    def test_finish_returns_to_caller(self, write_script):
        steps = self.drive(write_script(LOOP), ["step"] * 6 + ["finish"])
        assert steps[6].function == "double"
        assert (steps[7].function, steps[7].line) == ("<module>", 8)

    def test_continue_stops_at_breakpoints_each_iteration(self, write_script):
        steps = self.drive(write_script(LOOP), ["continue"] * 4, breakpoints=[4])
        assert lines(steps) == [1, 4, 4, 4, 7 + 4]  # three calls, then the end step
        assert steps[-1].event == "end"
        assert [s.tensor("x").preview for s in steps[1:4]] == ["[0]", "[1]", "[2]"]

    def test_breakpoint_added_while_running(self, write_script):
        session = Session(str(write_script(LOOP)))
        session.start()
        session.wait(10)
        session.add_breakpoint(10)
        first = session.command("continue", 10)
        assert first is not None and first.line == 10
        session.remove_breakpoint(10)
        assert session.command("continue", 10).event == "end"
        assert session.command("continue", 10) is None
        assert session.trace is not None and session.trace.completed

    def test_prev_line_is_the_line_just_run(self, write_script):
        steps = self.drive(write_script(LOOP), ["next"] * 4)
        assert [s.prev_line for s in steps] == [None, 1, 3, 7, 8]

    def test_stop_mid_loop_never_hangs(self, write_script):
        path = write_script("i = 0\nwhile True:\n    i += 1\n")
        session = Session(str(path))
        session.start()
        session.wait(10)
        session.send("continue")
        session.stop()
        trace = session.join(5)
        assert trace is not None and trace.end_reason == "stopped" and not trace.completed

    def test_max_steps_caps_the_trace(self, write_script):
        trace = Session(str(write_script("while True:\n    pass\n")), max_steps=50).record()
        assert len(trace.steps) == 50 and trace.end_reason == "max-steps" and not trace.completed


class TestRunHere:
    """The script runs on the calling thread; commands and interrupts come from other threads."""

    def test_run_here_steps_as_start_does(self, write_script):
        path = write_script(LOOP)
        session = Session(str(path))
        got: list[Step | None] = []

        def drive() -> None:
            got.append(session.wait(10))
            for _ in range(7):
                got.append(session.command("next", 10))
            session.stop()

        driver = threading.Thread(target=drive)
        driver.start()
        trace = session.run_here()
        driver.join(10)
        assert lines([s for s in got if s is not None]) == [1, 3, 7, 8, 9, 10, 8, 9]
        assert trace.end_reason == "stopped" and trace is session.trace
        assert session.internal_errors == []

    def test_script_runs_on_the_callers_thread(self, write_script):
        path = write_script("import threading as t\nprint(t.current_thread() is t.main_thread())\n")
        trace = Session(str(path)).record()
        assert trace.stdout == f"{threading.current_thread() is threading.main_thread()}\n"

    def test_interrupt_pauses_a_continue_at_the_next_user_line(self, write_script):
        path = write_script("import time\ni = 0\nwhile True:\n    time.sleep(0.01)\n    i += 1\n")
        steps: list[Step] = []
        paused = threading.Event()

        def on_step(step: Step) -> None:
            steps.append(step)
            paused.set()

        session = Session(str(path), on_step=on_step)

        def drive() -> None:
            for _ in range(2):
                assert paused.wait(10)
                paused.clear()
                session.send("continue")
                session.interrupt()
            assert paused.wait(10)
            session.stop()

        driver = threading.Thread(target=drive)
        driver.start()
        trace = session.run_here()
        driver.join(10)
        assert [s.line for s in steps][0] == 1
        assert len(steps) == 3 and all(s.line in (2, 3, 4, 5) for s in steps[1:])
        assert trace.end_reason == "stopped"
        assert session.internal_errors == []

    def test_interrupt_while_paused_is_forgotten(self, write_script):
        session = Session(str(write_script(LOOP)))
        session.start()
        assert session.wait(10) is not None
        session.interrupt()  # already paused: nothing to interrupt
        session.add_breakpoint(10)
        step = session.command("continue", 10)
        assert step is not None and step.line == 10
        session.stop()
        assert session.join(5) is not None

    def test_timeout_interrupts_a_script_stuck_in_a_long_call(self, write_script):
        path = write_script("import time\nprint('before')\ntime.sleep(60)\nprint('after')\n")
        stdout, exit_fn = sys.stdout, os._exit
        start = time.monotonic()
        trace = Session(str(path)).run(timeout=0.5)
        assert time.monotonic() - start < 30
        assert trace.end_reason == "timeout" and not trace.completed
        assert trace.stdout == "before\n"
        if threading.current_thread() is threading.main_thread():  # the run is over: nothing left behind
            assert sys.stdout is stdout and os._exit is exit_fn

    def test_timeout_ends_a_busy_loop(self, write_script):
        trace = Session(str(write_script("i = 0\nwhile True:\n    i += 1\n"))).record(timeout=0.3)
        assert trace.end_reason == "timeout" and trace.steps


class TestStatements:
    """Steps are statements, alike on every Python version (3.12 inlines comprehensions: PEP 709)."""

    def test_multi_line_statement_is_one_step(self, write_script):
        path = write_script("x = max(\n    1,\n    2,\n)\ny = [i * 2\n     for i in range(3)]\n")
        trace = Session(str(path)).record()
        assert lines(list(trace.steps)) == [1, 5, 5]
        assert trace.steps[-1].event == "end"

    def test_comprehension_is_one_step(self, write_script):
        path = write_script("w = [i for i in range(50)]\nv = {i: i for i in range(50)}\nprint(len(w))\n")
        trace = Session(str(path)).record()
        assert lines(list(trace.steps)) == [1, 2, 3, 3]

    def test_one_line_loop_steps_each_iteration(self, write_script):
        path = write_script("x = 0\nfor i in range(3): x += i\ni = 0\nwhile i < 2: i += 1\n")
        steps = list(Session(str(path)).record().steps)
        assert lines(steps) == [1, 2, 2, 2, 2, 3, 4, 4, 4]  # a while loop tests at its bottom

    def test_locals_comprehension_in_a_function_runs_as_under_python(self, write_script):
        path = write_script(
            """
            def g():
                a = 1
                d = {k: v for k, v in locals().items()}
                return d
            print(g())
            """
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            trace = Session(str(path)).record()
        assert trace.completed and trace.stdout == "{'a': 1}\n" and trace.stderr == ""

    def test_generator_and_with_steps(self, write_script):
        path = write_script(
            """
            def gen():
                for i in range(2):
                    yield i
            for v in gen():
                pass
            with open(__file__) as fh:
                n = 1
            """
        )
        steps = Session(str(path)).record().steps
        assert [(s.line, s.event[0]) for s in steps] == [
            (1, "l"), (4, "l"), (2, "l"), (3, "l"), (3, "r"), (5, "l"),
            (4, "l"), (2, "l"), (3, "l"), (3, "r"), (5, "l"),
            (4, "l"), (2, "l"), (2, "r"), (6, "l"), (7, "l"), (6, "l"), (6, "e")]

    def test_tracer_backend_per_version(self, write_script):
        session = Session(str(write_script("x = 1\n")))
        session.record()
        assert session.tracer is not None
        assert session.tracer.name == ("monitoring" if sys.version_info >= (3, 12) else "settrace")
        if sys.version_info >= (3, 12):  # its tool id is given back
            assert all(sys.monitoring.get_tool(i) != "tensorscope" for i in range(6))

    @pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is new in Python 3.12")
    def test_debugger_tool_id_stays_free_for_the_script(self, write_script):
        path = write_script(
            """
            import sys
            mon = sys.monitoring
            print(mon.get_tool(mon.DEBUGGER_ID), mon.get_tool(mon.COVERAGE_ID))
            mon.use_tool_id(mon.DEBUGGER_ID, "pdb")
            mon.free_tool_id(mon.DEBUGGER_ID)
            """
        )
        trace = Session(str(path)).record()
        assert trace.completed and trace.stdout == "None None\n"

    def test_script_edited_between_sessions_is_stepped_as_edited(self, write_script):
        path = write_script("a = 1\nb = 2\n")
        assert lines(list(Session(str(path)).record().steps)) == [1, 2, 2]
        path.write_text("a = (1 +\n     2)\nc = 3\nd = 4\n", encoding="utf-8")
        trace = Session(str(path)).record()
        assert lines(list(trace.steps)) == [1, 3, 4, 4]
        assert trace.source[2] == "c = 3"


class TestExceptionsAndInternalErrors:
    """Exceptions are events on Steps; errors inside tensorscope are recorded loudly."""

    def test_caught_exception_is_recorded_on_a_step(self, write_script):
        path = write_script(
            """
            def f(x):
                raise ValueError("negative")
            try:
                f(1)
            except ValueError:
                y = 2
            print(y)
            """
        )
        trace = Session(str(path)).record()
        raised = [s.raised for s in trace.steps if s.raised is not None]
        assert len(raised) == 1
        info = raised[0]
        assert (info.type, info.message, info.line, info.function, info.caught_line) == (
            "ValueError", "negative", 2, "f", 5)
        assert trace.completed and trace.stdout == "2\n"
        assert Trace.from_json(trace.to_json()) == trace

    def test_an_exception_passing_through_finally_is_caught_where_an_except_takes_it(self, write_script):
        path = write_script(
            """
            def f():
                try:
                    raise ValueError("x")
                finally:
                    cleaned = True
            try:
                f()
            except ValueError:
                y = 2
            """
        )
        trace = Session(str(path)).record()
        raised = [(s.line, s.raised.line, s.raised.caught_line) for s in trace.steps if s.raised is not None]
        assert raised == [(5, 3, None), (8, 3, 8)]  # at the finally: raised, not caught; then caught at 8

    def test_old_traces_without_the_new_fields_still_load(self, write_script):
        trace = Session(str(write_script("x = 1\n"))).record()
        data = trace.to_dict()
        del data["internal_errors"]
        for step in data["steps"]:
            del step["raised"]
        assert Trace.from_dict(data) == trace

    def test_monitor_hooks_see_raise_and_handler(self, write_script):
        seen: list[tuple[str, str, int]] = []

        class Watch(Monitor):
            def on_raise(self, ctx, exc, frame, line):
                seen.append(("raise", type(exc).__name__, line))

            def on_handled(self, ctx, exc, frame, line):
                seen.append(("handled", type(exc).__name__, line))

        path = write_script("try:\n    int('x')\nexcept ValueError:\n    pass\n")
        Session(str(path), monitors=[Watch()]).run()
        assert seen == [("raise", "ValueError", 2), ("handled", "ValueError", 3)]

    def test_a_failing_monitor_is_recorded_with_its_name(self, write_script):
        from tensorscope.engine import session as engine

        class Broken(Monitor):
            code = "broken-check"
            wants_lines = True

            def on_line(self, ctx, frame, line):
                raise KeyError("oops")

        before = len(engine.INTERNAL_ERRORS)
        session = Session(str(write_script("x = 1\ny = 2\n")), monitors=[Broken()])
        trace = session.run()
        errors = engine.INTERNAL_ERRORS[before:]
        del engine.INTERNAL_ERRORS[before:]  # expected here: the autouse fixture must not fail this test
        assert trace.completed and len(session.internal_errors) == 2
        assert session.internal_errors == errors and trace.internal_errors == tuple(errors)
        assert errors[0].startswith("Broken (broken-check): Traceback") and "KeyError: 'oops'" in errors[0]

    def test_a_bug_in_a_flags_explanation_is_recorded_and_the_flag_still_goes_out(self, write_script,
                                                                                   monkeypatch):
        from tensorscope.checks import default_checks
        from tensorscope.checks.no_grad_graph import NoGradGraph

        def broken(*args):
            raise KeyError("why")

        monkeypatch.setattr(NoGradGraph, "_why", broken)
        path = write_script("import torch\nloss = torch.ones(2).sum()\nloss.backward()\n")
        session = Session(str(path), monitors=default_checks())
        trace = session.run()
        assert [f.code for f in trace.flags] == ["no-grad-graph"]
        [error] = session.internal_errors
        assert error.startswith("no-grad-graph: KeyError: 'why'") and "Traceback" in error

    def test_check_prints_internal_errors_and_exits_2(self, write_script, monkeypatch):
        from click.testing import CliRunner

        from tensorscope.cli import EXIT_CANNOT_RUN, main
        from tensorscope.engine import process
        from tensorscope.engine import session as engine

        # the engine child builds its checks from this spec: a check that fails at the end of the run
        monkeypatch.setattr(process, "spec_for", functools.partial(process.spec_for,
                                                                   checks=f"{__name__}:broken_checks"))
        before = len(engine.INTERNAL_ERRORS)
        result = CliRunner().invoke(main, ["check", str(write_script("x = 1\n"))])
        errors = engine.INTERNAL_ERRORS[before:]
        del engine.INTERNAL_ERRORS[before:]
        assert result.exit_code == EXIT_CANNOT_RUN
        assert len(errors) == 1 and "RuntimeError: check bug" in result.stderr
        assert result.stderr.count("internal error in BrokenAtFinish: Traceback") == 1


class BrokenAtFinish(Monitor):
    """A check with a bug: it raises when the run ends."""

    def on_finish(self, ctx):
        raise RuntimeError("check bug")


def broken_checks() -> list[Monitor]:
    return [BrokenAtFinish()]


class TestCollection:
    """What counts as a tensor in scope, and how it is recorded."""

    def test_module_params_containers_and_optimizer(self, write_script):
        path = write_script(
            """
            import torch
            from torch import nn
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            batch = [torch.ones(2), torch.zeros(3)]
            state = {"h": torch.ones(1)}
            big = torch.zeros(1000, 1000)
            end = 1
            """
        )
        trace = Session(str(path)).record()
        last = trace.steps[-1]
        names = [t.name for t in last.tensors]
        assert "model.0.weight" in names and "model.1.running_mean" in names
        assert last.tensor("model.0.weight").kind == "parameter"
        assert last.tensor("model.1.running_mean").kind == "buffer"
        assert {"batch[0]", "batch[1]", "state['h']"} <= set(names)
        big = last.tensor("big")
        assert big.numel == 1_000_000 and big.preview is None and big.stats is not None
        assert big.stats.mean == 0.0
        assert last.optimizers[0].type == "SGD" and last.optimizers[0].lr == pytest.approx(0.1)
        assert last.optimizers[0].param_count == 4

    def test_autograd_graph_down_to_named_leaves(self, write_script):
        """A non-leaf carries its graph, grad_fn first, leaves named as the user names them."""
        path = write_script(
            """
            import torch
            w = torch.ones(2, requires_grad=True)
            h = w * 3
            sq = h * h
            loss = sq.sum() + torch.ones(2, requires_grad=True).sum()
            end = 1
            """
        )
        trace = Session(str(path)).record()
        last = trace.steps[-1]
        assert last.tensor("w").graph == ()
        graph = last.tensor("loss").graph
        assert [(n.depth, n.name) for n in graph[:3]] == [(0, "AddBackward0"), (1, "SumBackward0"),
                                                          (2, "MulBackward0")]
        leaves = [n.leaf for n in graph if n.leaf is not None]
        assert leaves == ["w", "2 float32"]  # the unnamed leaf is described by shape and dtype
        again = [n for n in graph if n.again]  # sq = h * h reaches h's node twice: drawn once
        assert [n.name for n in again] == ["MulBackward0"]
        assert Trace.from_json(trace.to_json()).steps[-1].tensor("loss").graph == graph

    def test_autograd_graph_is_cut_when_long(self, write_script):
        """A graph kept growing across iterations is cut, not walked whole at every step."""
        path = write_script(
            """
            import torch
            w = torch.ones(1, requires_grad=True)
            total = 0
            for _ in range(200):
                total = total + w * 2
            end = 1
            """
        )
        graph = Session(str(path)).record().steps[-1].tensor("total").graph
        assert 10 < len(graph) <= 41 and graph[0].more == 0
        assert [n.more for n in graph if n.name == "…"][0] == 100  # the long branch: cut, its rest counted

    def test_grad_recorded_and_non_leaf_grad_not_touched(self, write_script):
        path = write_script(
            """
            import torch
            w = torch.tensor([1.0, 2.0], requires_grad=True)
            y = (w * 3).sum()
            y.backward()
            end = 1
            """
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # reading y.grad would warn
            trace = Session(str(path)).record()
        assert trace.stderr == ""
        last = trace.steps[-1]
        assert last.tensor("w").grad.preview == "[3, 3]"
        assert last.tensor("y").grad is None and last.tensor("y").grad_fn == "SumBackward0"
        assert not last.tensor("y").is_leaf

    def test_history_is_a_snapshot_not_an_alias(self, write_script):
        path = write_script(
            """
            import torch
            w = torch.zeros(2)
            w += 1
            w += 1
            """
        )
        trace = Session(str(path)).record()
        seen = [s.tensor("w").preview for s in trace.steps if s.tensor("w")]
        assert seen == ["[0, 0]", "[1, 1]", "[2, 2]"]
        versions = [s.tensor("w").version for s in trace.steps if s.tensor("w")]
        assert versions == sorted(versions) and versions[0] < versions[-1]

    def test_nan_stats(self, write_script):
        path = write_script("import torch\nx = torch.tensor([1.0, float('nan'), float('inf')])\nend = 1\n")
        stats = Session(str(path)).record().steps[-1].tensor("x").stats
        assert (stats.nan, stats.inf, stats.min, stats.max) == (1, 1, 1.0, 1.0)

    def test_grad_mode_recorded(self, write_script):
        path = write_script("import torch\nwith torch.no_grad():\n    a = 1\nb = 2\n")
        trace = Session(str(path)).record()
        modes = {s.line: s.grad_enabled for s in trace.steps if s.event == "line"}
        assert modes[3] is False and modes[4] is True


class TestRunning:
    """The script runs as under plain python: __main__, argv, sys.path, output, errors, exits."""

    def test_main_argv_file_and_path(self, write_script, tmp_path):
        (tmp_path / "helper_mod.py").write_text("VALUE = 42\n")
        path = write_script(
            """
            import sys, helper_mod
            print(__name__, sys.argv[1:], helper_mod.VALUE, __file__)
            """
        )
        saved_argv, saved_path0 = sys.argv[:], sys.path[0]
        trace = Session(str(path), ["--epochs", "3"]).record()
        assert trace.stdout == f"__main__ ['--epochs', '3'] 42 {path}\n"
        assert sys.argv == saved_argv and sys.path[0] == saved_path0
        assert sys.modules["__main__"].__name__ == "__main__" and not hasattr(
            sys.modules["__main__"], "helper_mod"
        )

    def test_restart_while_the_old_run_is_stuck_keeps_the_new_main(self, write_script):
        """A run stuck in a long call that ends after a newer run started must not take its __main__ away."""
        outer = sys.modules["__main__"]
        old = Session(str(write_script("import time\ntime.sleep(1.0)\nx = 1\n", name="old.py")))
        old.start()
        old.wait(10)
        old.send("next")  # now inside time.sleep: stop() takes effect only when it returns
        old.stop()
        new = Session(str(write_script("marker = 'new run'\ny = 2\n", name="new.py")))
        new.start()
        new.wait(10)
        assert old.join(5) is not None
        assert getattr(sys.modules["__main__"], "__file__", "").endswith("new.py")
        new.send("continue")
        trace = new.join(5)
        assert trace is not None and trace.completed
        assert sys.modules["__main__"] is outer

    def test_output_captured_per_step(self, write_script, capsys):
        path = write_script("print('a')\nx = 1\nprint('b', file=__import__('sys').stderr)\ny = 2\n")
        trace = Session(str(path)).record()
        outs = [(s.line, s.stdout, s.stderr) for s in trace.steps if s.stdout or s.stderr]
        assert outs == [(2, "a\n", ""), (4, "", "b\n")]
        assert trace.stdout == "a\n" and trace.stderr == "b\n"
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err == ""

    def test_exception_becomes_a_step_at_the_users_line(self, write_script):
        path = write_script(
            """
            import torch

            def forward(x):
                return x @ torch.ones(3, 2)

            a = torch.ones(2, 2)
            out = forward(a)
            """
        )
        trace = Session(str(path)).record()
        assert trace.end_reason == "exception" and not trace.completed
        exc = trace.exception
        assert exc.type == "RuntimeError" and "cannot be multiplied" in exc.message
        assert (exc.line, exc.function) == (4, "forward")
        assert [(f.line, f.function) for f in exc.traceback] == [(7, "<module>"), (4, "forward")]
        assert all("torch" not in f.file for f in exc.traceback)
        last = trace.steps[-1]
        assert last.event == "exception" and last.line == 4 and last.tensor("x").shape == (2, 2)

    def test_exception_message_equals_plain_python(self, write_script):
        import subprocess

        path = write_script("class Oops(Exception):\n    pass\nraise Oops('bad thing')\n")
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
        trace = Session(str(path)).record()
        assert proc.stderr.strip().splitlines()[-1] == f"{trace.exception.type}: {trace.exception.message}"
        assert trace.exception.text.splitlines()[-1] == "Oops: bad thing"

    @pytest.mark.parametrize(
        ("body", "code", "completed"),
        [("sys.exit()", 0, True), ("sys.exit(0)", 0, True), ("sys.exit(3)", 3, False),
         ("sys.exit('failed')", 1, False)],
    )
    def test_system_exit(self, write_script, body, code, completed):
        path = write_script(f"import sys\nprint('before')\n{body}\nprint('after')\n")
        trace = Session(str(path)).record()
        assert trace.end_reason == "exit" and trace.exit_code == code
        assert trace.completed is completed and trace.exception is None
        assert trace.stdout == "before\n"

    def test_pickle_sees_a_real_main(self, write_script, tmp_path):
        path = write_script(
            """
            import pickle
            class Point:
                def __init__(self, x):
                    self.x = x
            data = pickle.dumps(Point(3))
            print(pickle.loads(data).x, type(pickle.loads(data)).__module__)
            """
        )
        assert Session(str(path)).run().stdout == "3 __main__\n"

    def test_script_errors(self, tmp_path):
        with pytest.raises(ScriptError, match="no such file"):
            ScriptTarget.load(str(tmp_path / "missing.py"))
        with pytest.raises(ScriptError, match="directory"):
            ScriptTarget.load(str(tmp_path))
        bad = tmp_path / "bad.py"
        bad.write_text("x = (1,\n")
        with pytest.raises(ScriptError, match=r"bad.py:1: syntax error"):
            ScriptTarget.load(str(bad))

    def test_coding_cookie_and_crlf(self, tmp_path):
        path = tmp_path / "latin.py"
        path.write_bytes("# -*- coding: latin-1 -*-\r\nprint('caf\xe9')\r\n".encode("latin-1"))
        assert Session(str(path)).run().stdout == "café\n"

    def test_trace_round_trips_through_json(self, write_script):
        trace = Session(str(write_script(LOOP))).record()
        again = Trace.from_json(trace.to_json())
        assert again == trace and again.steps[5].tensors == trace.steps[5].tensors
        with pytest.raises(ValueError):
            Trace.from_json("{\"nope\": 1}")
        with pytest.raises(ValueError):
            Trace.from_json("not json")
