"""#14 items 2 and 9: the loss is the scalar `backward()` was called on (Step.loss), plotted with `p`; the
Output pane wraps its lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from forked_python import forked_python
from pilot_support import paused, wait_until
from textual.widgets import Log

from tensorscope.checks import default_checks
from tensorscope.engine.instrument import Instrument
from tensorscope.engine.losswatch import LossWatch
from tensorscope.engine.session import Session
from tensorscope.model import Step, Trace
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.history import History
from tensorscope.tui.plot import CurvePlot, PlotScreen

DECOYS = """
import torch

torch.manual_seed(0)
model = torch.nn.Linear(3, 1)
x = torch.randn(32, 3)
y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
opt = torch.optim.SGD(model.parameters(), lr=0.1)
running_loss = 0.0
running = torch.zeros(())
for epoch in range(4):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()  # after backward
    running_loss += loss.item()
    running = running + loss.detach()
    print(f"epoch {epoch}: loss={loss.item():.4f}")
print("losses were", "decreasing")
"""
AFTER_BACKWARD = 14


def record(path: Path, checks: bool = True) -> Trace:
    session = Session(str(path), monitors=default_checks() if checks else [])
    trace = session.record()
    assert not session.internal_errors
    return trace


def losses(trace: Trace) -> list[tuple[int, float, str | None]]:
    return [(s.line, s.loss, s.loss_name) for s in trace.steps if s.loss is not None]


def expected_losses(path: Path) -> list[float]:
    """The values `loss` had at each backward(), as plain python prints them."""
    run = forked_python(path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    return [float(line.split("loss=")[1]) for line in out.splitlines() if "loss=" in line]


class TestStepLoss:
    """The engine reports what `backward()` was called on, at the pause after the line that called it."""

    @pytest.mark.parametrize("checks", [True, False])
    def test_loss_is_backwards_tensor_not_the_running_sums(self, write_script, checks):
        path = write_script(DECOYS)
        seen = losses(record(path, checks))
        assert [(line, name) for line, _, name in seen] == [(AFTER_BACKWARD, "loss")] * 4
        values = [v for _, v, _ in seen]
        assert values == pytest.approx(expected_losses(path), abs=1e-4)
        assert values == sorted(values, reverse=True)  # falling, while running_loss rises

    def test_temporary_root_has_no_name_and_autograd_backward_has_one(self, write_script):
        trace = record(write_script("""
            import torch
            w = torch.tensor([1.0, 2.0], requires_grad=True)
            a = w.sum()
            b = (w * 2).sum()
            (a + b).backward()
            total = (w ** 2).sum()
            torch.autograd.backward(total)
            torch.autograd.backward([w.mean()])
            done = 1
        """))
        assert losses(trace) == [(6, 9.0, None), (8, 5.0, "total"), (9, 1.5, None)]

    def test_loss_belongs_to_the_step_after_its_line_only(self, write_script):
        """Inside a function: the Step of the function's next line has it, the caller's next one does not
        (so a live `next` over the call shows what `record` and a replay show)."""
        trace = record(write_script("""
            import torch
            w = torch.ones(2, requires_grad=True)
            def train():
                loss = (w * 2).sum()
                loss.backward()
                return loss.item()
            value = train()
            done = value
        """))
        assert losses(trace) == [(6, 4.0, "loss")]

    def test_no_loss_for_non_scalar_failed_or_grad_calls(self, write_script):
        trace = record(write_script("""
            import torch
            w = torch.ones(3, requires_grad=True)
            v = w * 2
            v.backward(torch.ones(3))
            g = torch.autograd.grad((w * 3).sum(), w)
            try:
                (w * 4).backward()
            except RuntimeError:
                pass
            done = 1
        """))
        assert losses(trace) == []

    def test_check_runs_without_the_loss_watch(self, write_script):
        """`check` makes no Steps: no layer is added for the loss (its budgets stay as they were)."""
        session = Session(str(write_script(DECOYS)), monitors=[])
        session.run()
        assert not any(isinstance(m, (Instrument, LossWatch)) for m in session.monitors)

    def test_the_loss_is_not_kept_alive(self, write_script):
        """Nothing keeps the tensor backward() was called on: it is freed when the script lets it go."""
        path = write_script("""
            import weakref, torch
            w = torch.ones(2, requires_grad=True)
            loss = (w * 3).sum()
            gone = weakref.ref(loss)
            loss.backward(); del loss; print(gone() is None)
        """)
        run = forked_python(path)
        assert run.returncode == 0, run.stderr
        plain = run.stdout
        trace = record(path)
        assert "".join(s.stdout for s in trace.steps) == plain == "True\n"
        assert losses(trace) == [(5, 6.0, None)]  # (the end step)


def step(i: int, loss: float | None = None, name: str | None = None) -> Step:
    return Step(i, "s.py", 1, "<module>", 0, loss=loss, loss_name=name)


class TestHistorySeries:
    def test_loss_series_prefers_backward_and_follows_the_screen(self):
        h = History()
        for i, v in enumerate([None, 3.0, None, 2.0]):
            h.append(step(i, v, "loss" if v is not None else None))
        h.go_last()
        assert h.loss_series() == ("loss", [(1, 3.0), (3, 2.0)])
        h.back()
        assert h.loss_series() == ("loss", [(1, 3.0)])


def _curve(app: TensorScopeApp, which: str) -> CurvePlot:
    return app.screen.query_one(f"#{which}-curve", CurvePlot)


async def _to_breakpoint_passes(pilot, app: TensorScopeApp, n: int) -> None:
    for _ in range(n):
        await paused(pilot, app)
        await pilot.press("c")
    await paused(pilot, app)


class TestPlotScreen:
    @pytest.mark.parametrize("size", [(120, 40), (80, 24)])
    async def test_p_plots_backwards_loss_and_grad_norm_then_closes(self, write_script, size):
        path = write_script(DECOYS)
        app = TensorScopeApp(str(path), breakpoints=[AFTER_BACKWARD])
        async with app.run_test(size=size) as pilot:
            await _to_breakpoint_passes(pilot, app, 4)
            app.tensors.select("model.weight")
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, PlotScreen)
                             and bool(_curve(app, "loss").points), "the plot")
            loss = _curve(app, "loss")
            assert [v for _, v in loss.points] == pytest.approx(expected_losses(path), abs=1e-4)
            assert loss.border_title == "loss: loss"
            grad = _curve(app, "grad")
            assert grad.border_title == "gradient norm of model.weight" and len(grad.points) >= 4
            norms = [s.tensor("model.weight").grad.norm for s in app.history.steps
                     if s.tensor("model.weight") is not None and s.tensor("model.weight").grad is not None]
            assert {v for _, v in grad.points} == set(norms)
            await pilot.press("p")
            await wait_until(pilot, lambda: not isinstance(app.screen, PlotScreen), "p closes the plot")
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, PlotScreen), "the plot again")
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, PlotScreen), "escape closes the plot")

    async def test_plot_in_chinese_says_why_it_is_empty(self, write_script):
        app = TensorScopeApp(str(write_script(DECOYS)), lang="zh")
        async with app.run_test(size=(80, 24)) as pilot:
            await paused(pilot, app)
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, PlotScreen), "the plot")
            await pilot.pause()
            loss = _curve(app, "loss")
            assert loss.points == [] and loss.empty.startswith("还没有损失")
            assert loss.border_title == "损失（调用 backward() 的那个值）"

    async def test_picked_scalar_is_plotted_without_backward(self, write_script):
        app = TensorScopeApp(str(write_script("""
            import torch
            total = torch.tensor(0.0)
            for i in range(3):
                total = total + i
            end = 1
        """)))
        async with app.run_test(size=(120, 40)) as pilot:
            while True:
                await paused(pilot, app)
                if app.current_step.line == 5:
                    break
                await pilot.press("n")
            app.tensors.select("total")
            app.action_plot_pick()
            await pilot.press("p")
            await wait_until(pilot, lambda: isinstance(app.screen, PlotScreen)
                             and bool(_curve(app, "loss").points), "the plot")
            assert [v for _, v in _curve(app, "loss").points] == [0.0, 1.0, 3.0]
            assert _curve(app, "loss").border_title == "loss: total"


class TestOutputWraps:
    async def test_long_lines_wrap_at_80x24(self, write_script):
        long = "word " * 60 + "END"
        app = TensorScopeApp(str(write_script(f"print({long!r})\nx = 1\n")))
        async with app.run_test(size=(80, 24)) as pilot:
            await paused(pilot, app)
            await pilot.press("n")
            await wait_until(pilot, lambda: "END" in "".join(app.query_one("#output-log", Log).lines),
                             "the printed line")
            log = app.query_one("#output-log", Log)
            lines = [line for line in log.lines if line]
            assert len(lines) > 1 and all(len(line) <= log.size.width - 1 for line in lines)
            assert " ".join(line.strip() for line in lines).split() == long.split()
            assert log.size.width == app.output.size.width - 1  # the whole pane but the Log's padding
