"""The step-debugger under broken or unusual scripts and impatient users (Textual pilot, 120x40).

Whatever the script does, the app stays up, says how the run ended in its status bar, keeps the output,
and quits at once on `q`.
"""

from __future__ import annotations

import time

from pilot_support import wait_until
from textual.widgets import Log

from tensorscope.model import Flag, Step, TensorView
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.history import History

SIZE = (120, 40)




async def started(pilot, app: TensorScopeApp) -> None:
    await wait_until(pilot, lambda: app.current_step is not None and app.state == "paused", "the first step")


async def run_to_end(pilot, app: TensorScopeApp) -> None:
    await started(pilot, app)
    await pilot.press("c")
    await wait_until(pilot, lambda: app.state not in ("starting", "paused", "running"), "the end of the run")
    await pilot.pause()


def status(app: TensorScopeApp) -> str:
    return str(app.query_one("#status").render())


def output_lines(app: TensorScopeApp) -> list[str]:
    return list(app.query_one("#output-log", Log).lines)


class TestEndings:
    """However the script ends, the last screen says how, and the app stays usable."""

    async def test_nonzero_system_exit_gets_an_end_step(self, write_script):
        """`sys.exit(3)` in a function: an end step, `exited (status 3)` in the status bar, output kept."""
        app = TensorScopeApp(str(write_script(
            "import sys\ndef main():\n    print('failing')\n    sys.exit(3)\nmain()\nprint('never')\n")))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            assert app.state == "exit" and app.exit_code == 3
            assert app.current_step is not None and app.current_step.event == "end"
            assert "exited (status 3)" in status(app)
            assert app.output.text == "failing\n"
            await pilot.press("left")  # step back still works after the end
            await pilot.pause()
            assert app.current_step is app.history.steps[-2]

    async def test_system_exit_zero_is_a_normal_end(self, write_script):
        """`SystemExit(0)` ends like a finished script: status 0, nothing shown as an error."""
        app = TensorScopeApp(str(write_script("print('ok')\nraise SystemExit(0)\n")))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            assert app.exit_code == 0 and app.current_step.event == "end"
            assert "status 0" in status(app) and app.inspector.showing != "exception"

    async def test_os_exit_does_not_kill_the_debugger(self, write_script):
        """`os._exit(4)` ends the script's run only: the app stays up and shows status 4 and the output."""
        app = TensorScopeApp(str(write_script("import os\nprint('before')\nos._exit(4)\nprint('after')\n")))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            assert app.state == "exit" and app.exit_code == 4 and app.output.text == "before\n"
            assert "exited (status 4)" in status(app)
            await pilot.press("r")  # and the script can be run again
            await wait_until(pilot, lambda: app.state == "paused" and app.runner.run == 2, "the restart")

    async def test_exception_in_forward(self, write_script):
        """An error inside `nn.Module.forward` is shown at its line in forward, with the inspector on it."""
        script = write_script("""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(3, 2)

                def forward(self, x):
                    return self.fc(x).view(5)

            out = Net()(torch.ones(4, 3))
        """)
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            step = app.current_step
            assert app.state == "exception" and step.exception.type == "RuntimeError"
            assert step.line == 10 and step.function == "forward"
            assert app.inspector.showing in ("exception", "flag:shape-mismatch")

    async def test_keyboard_interrupt_raised_by_the_script(self, write_script):
        """The script's own `raise KeyboardInterrupt` is its exception, not a signal to quit the app."""
        app = TensorScopeApp(str(write_script("x = 1\nraise KeyboardInterrupt\n")))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            assert app.is_running and app.state == "exception"
            assert app.current_step.exception.type == "KeyboardInterrupt"

    async def test_input_is_explained_on_every_run(self, write_script):
        """`input()` raises EOFError, and the explanation comes back after a restart too."""
        app = TensorScopeApp(str(write_script('name = input("name? ")\nprint(name)\n')))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            assert app.current_step.exception.type == "EOFError"
            assert "input()" in str(app.inspector.body.render())
            await pilot.press("r")
            await wait_until(pilot, lambda: app.state == "paused" and app.runner.run == 2, "the restart")
            await pilot.press("c")
            await wait_until(pilot, lambda: app.state == "exception", "EOFError again")
            await pilot.pause()
            assert "input()" in str(app.inspector.body.render())

    async def test_empty_script(self, write_script):
        """An empty file: the app opens, shows the run finished, and does not invent a line 0 to stop at."""
        app = TensorScopeApp(str(write_script("")))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.state == "finished", "the end")
            assert [s.event for s in app.history.steps] == ["end"]
            await pilot.press("n")
            await pilot.pause()
            assert app.is_running


class TestOutputSafety:
    """The Output pane shows what was printed as text; escape codes never reach the terminal."""

    async def test_escape_codes_are_shown_not_obeyed(self, write_script):
        """ANSI colours, a bell and a clear-screen show as ␛ and ^G; unicode shows as itself."""
        app = TensorScopeApp(str(write_script(
            'print("héllo 你好 🙂")\nprint("\\x1b[31mred\\x1b[0m\\x07 \\x1b[2J\\x1b[H")\nprint("end")\n')))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            lines = output_lines(app)
            assert "héllo 你好 🙂" in lines and "end" in lines
            assert "␛[31mred␛[0m^G ␛[2J␛[H" in lines
            assert not any("\x1b" in line or "\x07" in line for line in lines)

    async def test_ten_megabytes_of_output(self, write_script):
        """A 10 MB print: the app keeps stepping, and the pane shows the newest lines."""
        app = TensorScopeApp(str(write_script(
            "import sys\nsys.stdout.write(('x' * 1023 + '\\n') * 10 * 1024)\nprint('last line')\nz = 1\n")))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            for line in (2, 3, 4):
                await pilot.press("n")
                await wait_until(pilot, lambda n=line: app.state == "paused" and app.current_step.line == n,
                                 f"line {line}")
            await wait_until(pilot, lambda: "last line" in output_lines(app)[-2:], "the last line on screen")
            assert len(output_lines(app)) <= 2001

    async def test_threads_output(self, write_script):
        """Prints from the script's threads land in the Output pane."""
        app = TensorScopeApp(str(write_script("""
            import threading
            ts = [threading.Thread(target=print, args=(f"thread {i}",)) for i in range(3)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        """)))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            assert sorted(app.output.text.splitlines()) == ["thread 0", "thread 1", "thread 2"]

    async def test_exit_handlers_output(self, write_script):
        """What the script's atexit handlers print is on the last Step, in the Output pane."""
        app = TensorScopeApp(str(write_script("""
            import atexit
            atexit.register(print, "goodbye from atexit")
            print("last line")
        """)))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            assert app.state == "finished"
            assert app.output.text == "last line\ngoodbye from atexit\n"
            assert [line for line in output_lines(app) if line] == ["last line", "goodbye from atexit"]


class TestResponsiveness:
    """A busy script never freezes the app; keys and resizes are handled, `q` quits at once."""

    async def test_infinite_loop_keeps_the_app_responsive(self, write_script):
        """While the script loops forever, help opens and closes, and `q` quits within a second."""
        script = write_script("import torch\nx = torch.zeros(2)\nwhile True:\n    x = x + 1\n")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await pilot.press("c")
            await pilot.pause(0.3)
            assert app.state == "running"
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "the help screen", 5)
            await pilot.press("escape")
            await wait_until(pilot, lambda: type(app.screen).__name__ != "HelpScreen", "help closed", 5)
            session = app.runner.session
            start = time.monotonic()
            await pilot.press("q")
        assert time.monotonic() - start < 2.0
        trace = session.join(5)
        assert trace is not None and trace.end_reason == "stopped"

    async def test_quit_in_the_middle_of_backward(self, write_script):
        """`q` while backward() runs the script's own slow backward: the app quits at once."""
        script = write_script("""
            import time
            import torch

            class Slow(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x * 2

                @staticmethod
                def backward(ctx, g):
                    for _ in range(2000):
                        time.sleep(0.005)
                    return g * 2

            x = torch.ones(3, requires_grad=True)
            Slow.apply(x).sum().backward()
            print("done")
        """)
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await pilot.press("c")
            await pilot.pause(0.5)
            session = app.runner.session
            start = time.monotonic()
            await pilot.press("q")
        assert time.monotonic() - start < 2.0
        trace = session.join(5)
        assert trace is not None and trace.end_reason == "stopped" and "done" not in trace.stdout

    async def test_keys_faster_than_the_engine(self, write_script):
        """Thirty `n` presses without waiting: every step arrives once, in order, and the app ends paused."""
        app = TensorScopeApp(str(write_script(
            "import torch\nw = torch.zeros(2)\nfor i in range(40):\n    w = w + i\nprint(w.tolist())\n")))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            for _ in range(30):
                await pilot.press("n")
            await wait_until(pilot, lambda: app.state in ("paused", "finished"), "the engine to settle")
            indices = [s.index for s in app.history.steps]
            assert indices == sorted(set(indices)) and len(indices) >= 2
            assert app.current_step is app.history.steps[-1]
            before = len(app.history)
            await pilot.press("n")
            await wait_until(pilot, lambda: len(app.history) > before, "one more step")

    async def test_resize_while_stepping(self, write_script):
        """Shrinking and growing the terminal mid-run keeps the panes on screen and the status one line."""
        app = TensorScopeApp(str(write_script(
            "import torch\nw = torch.ones(2, requires_grad=True)\nloss = (w * 3).sum()\nloss.backward()\n")))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            for width, height in ((60, 20), (200, 60), (80, 24)):
                await pilot.resize_terminal(width, height)
                await pilot.press("n")
                await wait_until(pilot, lambda: app.state in ("paused", "finished"), "the step")
                await pilot.pause()
                assert app.size == (width, height)
                assert app.query_one("#status").region.height == 1
                for pane in ("source", "tensors", "output"):
                    region = app.query_one(f"#{pane}").region
                    assert app.screen.region.contains_region(region), (pane, width, height)

    async def test_big_tensor_in_scope_steps_fast(self, write_script):
        """A 10^7-element tensor in scope: each `n` after it exists answers well under a second."""
        app = TensorScopeApp(str(write_script(
            "import torch\nbig = torch.randn(10_000_000)\na = 1\nb = 2\nc = 3\nbig.mul_(2)\nd = 4\n")))
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot, app)
            await pilot.press("n")
            await wait_until(pilot, lambda: app.state == "paused" and len(app.history) == 2, "big made")
            await pilot.press("n")
            await wait_until(pilot, lambda: app.state == "paused" and len(app.history) == 3, "big in scope")
            for _ in range(4):
                before = len(app.history)
                start = time.monotonic()
                await pilot.press("n")
                await wait_until(pilot, lambda b=before: app.state == "paused" and len(app.history) > b, "n")
                assert time.monotonic() - start < 0.8
            assert app.current_step.tensor("big").numel == 10_000_000

    async def test_odd_objects_in_scope(self, write_script):
        """A `__repr__` that raises and a `__getattr__` that claims to be a tensor do not break any pane."""
        app = TensorScopeApp(str(write_script("""
            import torch
            class BadRepr:
                def __repr__(self):
                    raise RuntimeError("no repr")
            class Liar:
                @property
                def __class__(self):
                    return torch.Tensor
                def __getattr__(self, name):
                    return torch.ones(1)
            bad, liar = BadRepr(), Liar()
            things = [bad, liar]
            w = torch.ones(2, requires_grad=True)
            print("ok")
        """)))
        async with app.run_test(size=SIZE) as pilot:
            await run_to_end(pilot, app)
            assert app.state == "finished" and app.output.text == "ok\n"
            names = [t.name for t in app.current_step.tensors]
            assert "w" in names
            assert not app.runner.session.internal_errors


def _step(i: int) -> Step:
    """One step as the engine records it: a fresh TensorView with values at every step."""
    w = TensorView(name="w", shape=(4,), dtype="float32", device="cpu", requires_grad=True, is_leaf=True,
                   grad_fn=None, version=i, numel=4, preview=f"[{i}, {i + 1}, {i + 2}, {i + 3}]")
    nan = Flag("nan-inf", "warning", 3, "<module>", "w became NaN", "check the lr", ("w",))
    flags = (nan,) if i == 5 else ()
    return Step(index=i, file="train.py", line=3 + i % 2, function="<module>", depth=0, tensors=(w,),
                stdout=f"step {i}\n" if i % 1000 == 0 else "", flags=flags)


class TestLongRuns:
    """A long session stays within memory, and nothing the user relies on is lost."""

    def test_hundred_thousand_steps_are_bounded(self):
        """After 10^5 steps at most a fifth keep their values; the newest step, every line printed and
        every flag stay, and stepping back still walks the steps kept."""
        history = History()
        for i in range(100_000):
            history.append(_step(i))
            history.go_last()
        with_values = sum(1 for s in history.steps if any(t.preview is not None for t in s.tensors))
        assert with_values <= 20_000
        last = history.current
        assert last is not None and last.index == 99_999
        assert last.tensor("w").preview == "[99999, 100000, 100001, 100002]"
        assert history.output() == "".join(f"step {i}\n" for i in range(0, 100_000, 1000))
        assert [f.message for _, f in history.flags()] == ["w became NaN"]
        steps_back = 0
        while history.back():
            steps_back += 1
        assert steps_back >= 1000 and history.current is not None and history.current.tensor("w") is not None
