"""Optimizers shown (#14 item 4): what the engine records of an optimizer, and what the Inspector says."""

from __future__ import annotations

import math

import pytest
import torch
from pilot_support import paused, wait_until

from tensorscope.engine.optim_view import OPTIMIZER_PARAMS, view_optimizer
from tensorscope.engine.session import Session
from tensorscope.model import OptimizerView, Step, TensorView, Trace
from tensorscope.optim_diff import diff_lines, last_change, state_lines
from tensorscope.report import trace_report
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.inspector import tensor_content
from tensorscope.tui.optimizer_view import optimizer_content
from tensorscope.tui.tensors import TensorTable

TRAIN = """
import torch
from torch import nn
torch.manual_seed(0)
model = nn.Linear(2, 1)
opt = torch.optim.{make}
x = torch.randn(4, 2)
for i in range(2):
    loss = model(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
done = 1
"""
DONE_LINE = 12


def _expected(make: str) -> torch.optim.Optimizer:
    """The same run as TRAIN, here: the optimizer after its two steps."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = eval(f"torch.optim.{make}", {"torch": torch, "model": model})
    x = torch.randn(4, 2)
    for _ in range(2):
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return opt


def _record(write_script, make: str) -> Trace:
    return Session(str(write_script(TRAIN.format(make=make)))).record()


def _opt(step: Step, name: str = "opt") -> OptimizerView:
    found = [o for o in step.optimizers if o.name == name]
    assert found, f"no optimizer {name} at step {step.index}"
    return found[0]


def _hyper(view: OptimizerView, group: int = 0) -> dict[str, str]:
    return {h.name: h.value for h in view.groups[group].hyper}


def _norms(view: OptimizerView, param: str) -> dict[str, float | None]:
    p = next(p for p in view.params if p.name == param)
    return {e.key: e.norm for e in p.state}


class TestEngine:
    def test_sgd_with_momentum_records_its_buffers_and_hyper_parameters(self, write_script):
        make = "SGD(model.parameters(), lr=0.1, momentum=0.9)"
        view = _opt(_record(write_script, make).steps[-1])
        assert view.type == "SGD" and view.lr == pytest.approx(0.1) and view.param_count == 2
        hyper = _hyper(view)
        assert hyper["lr"] == "0.1" and hyper["momentum"] == "0.9" and hyper["nesterov"] == "False"
        assert "params" not in hyper
        assert view.step is None  # SGD keeps no step count
        assert [p.name for p in view.params] == ["model.weight", "model.bias"]
        assert [p.shape for p in view.params] == [(1, 2), (1,)]
        real = _expected(make)
        for p, name in zip(real.param_groups[0]["params"], ("model.weight", "model.bias"), strict=True):
            buf = real.state[p]["momentum_buffer"]
            assert _norms(view, name)["momentum_buffer"] == pytest.approx(float(buf.norm()), rel=1e-6)

    def test_adam_records_its_step_count_and_moment_norms(self, write_script):
        make = "Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))"
        trace = _record(write_script, make)
        view = _opt(trace.steps[-1])
        assert view.type == "Adam" and view.step == 2
        assert all(p.step == 2 for p in view.params)
        hyper = _hyper(view)
        assert hyper["betas"] == "(0.8, 0.9)" and hyper["lr"] == "0.01" and hyper["weight_decay"] == "0"
        real = _expected(make)
        weight = real.param_groups[0]["params"][0]
        norms = _norms(view, "model.weight")
        assert set(norms) == {"exp_avg", "exp_avg_sq"}
        assert norms["exp_avg"] == pytest.approx(float(real.state[weight]["exp_avg"].norm()), rel=1e-6)
        assert norms["exp_avg_sq"] == pytest.approx(float(real.state[weight]["exp_avg_sq"].norm()), rel=1e-6)
        first = next(s for s in trace.steps if s.optimizers)
        assert _opt(first).step is None and all(not p.state for p in _opt(first).params)  # before step()

    def test_fused_adam_state_is_read_again_though_its_version_stays(self, write_script):
        """Fused kernels do not bump `_version`: the norms must still follow the state."""
        make = "Adam(model.parameters(), lr=0.01, fused=True)"
        trace = _record(write_script, make)
        steps = [_opt(s).step for s in trace.steps if s.optimizers]
        assert steps[-1] == 2 and 1 in steps
        real = _expected(make)
        weight = real.param_groups[0]["params"][0]
        norms = _norms(_opt(trace.steps[-1]), "model.weight")
        assert norms["exp_avg"] == pytest.approx(float(real.state[weight]["exp_avg"].norm()), rel=1e-6)

    def test_unchanged_optimizer_views_are_shared_between_pauses(self, write_script):
        trace = _record(write_script, "Adam(model.parameters())")
        views = [_opt(s) for s in trace.steps if s.optimizers]
        assert any(a is b for a, b in zip(views, views[1:], strict=False))
        assert len({id(v) for v in views}) >= 3  # (before any step, after step 1, after step 2)

    def test_groups_tensors_without_a_name_and_the_cap(self):
        named = torch.nn.Parameter(torch.ones(2))
        many = [torch.nn.Parameter(torch.ones(1)) for _ in range(OPTIMIZER_PARAMS + 5)]
        opt = torch.optim.SGD([{"params": [named]}, {"params": many, "lr": 0.5}], lr=0.1)
        view = view_optimizer("opt", opt, {id(named): "w"})
        assert [g.params for g in view.groups] == [1, OPTIMIZER_PARAMS + 5]
        assert _hyper(view, 1)["lr"] == "0.5" and _hyper(view, 0)["lr"] == "0.1"
        assert view.params[0].name == "w" and view.params[1].name == "" and view.params[1].group == 1
        assert len(view.params) == OPTIMIZER_PARAMS and view.more == 6 and view.param_count == 70

    def test_a_tensor_learning_rate_is_shown_as_its_value(self):
        p = torch.nn.Parameter(torch.ones(2))
        view = view_optimizer("opt", torch.optim.Adam([p], lr=torch.tensor(0.5)))
        assert view.lr == 0.5 and _hyper(view)["lr"] == "0.5"

    def test_reading_the_optimizer_runs_none_of_the_scripts_code(self, write_script):
        """An optimizer subclass that watches its attribute reads sees none while tensorscope pauses."""
        path = write_script(
            """
            import torch
            seen = []
            watching = False
            class Watched(torch.optim.SGD):
                def __getattribute__(self, name):
                    if watching:
                        seen.append(name)
                    return super().__getattribute__(name)
            p = torch.nn.Parameter(torch.ones(2))
            p.grad = torch.ones(2)
            opt = Watched([p], lr=0.1, momentum=0.9)
            opt.step()
            watching = True
            a = 1
            b = 2
            watching = False
            print(len(seen))
            """
        )
        trace = Session(str(path)).record()
        assert trace.stdout == "0\n"
        assert _opt(trace.steps[-1]).params[0].state[0].key == "momentum_buffer"

    def test_the_views_survive_a_json_round_trip(self, write_script):
        trace = _record(write_script, "Adam(model.parameters())")
        again = Trace.from_json(trace.to_json())
        assert again.steps[-1].optimizers == trace.steps[-1].optimizers
        assert again.steps[-1].optimizers[0].params[0].shape == (1, 2)


def _view(step: int | None, exp_avg: float, lr: str = "0.01") -> OptimizerView:
    from tensorscope.model import HyperParam, OptimizerGroup, OptimizerParam, StateEntry
    state = (StateEntry("exp_avg", exp_avg), StateEntry("exp_avg_sq", 0.003)) if step else ()
    return OptimizerView("opt", "Adam", 0.01, 1, (OptimizerGroup(1, (HyperParam("lr", lr),
                                                                    HyperParam("foreach", "None"))),),
                         step, (OptimizerParam("w", 0, (2,), step, state),))


def _step(index: int, view: OptimizerView | None, prev_line: int = 5) -> Step:
    return Step(index=index, file="s.py", line=prev_line + 1, function="<module>", depth=0,
                prev_line=prev_line, optimizers=(view,) if view else ())


class TestWords:
    def test_what_the_last_step_changed(self):
        lines = diff_lines(_view(3, 0.12), _view(4, 0.1))
        assert lines == ["step 3 → 4", "w exp_avg ‖·‖ 0.12 → 0.1"]
        assert diff_lines(_view(4, 0.1), _view(4, 0.1, lr="0.005")) == ["lr 0.01 → 0.005"]

    def test_the_last_change_is_found_back_in_the_history(self):
        steps = [_step(0, None), _step(1, _view(None, 0)), _step(2, _view(1, 0.2), prev_line=7),
                 _step(3, _view(1, 0.2)), _step(4, _view(1, 0.2))]
        change = last_change(steps, 4, "opt")
        assert change is not None and change.line == 7 and change.steps_ago == 2
        assert change.lines[0] == "step — → 1" and "w exp_avg ‖·‖ — → 0.2" in change.lines
        assert last_change(steps, 1, "opt") is None  # it came into scope there: nothing before
        assert last_change(steps, 4, "other") is None

    @pytest.mark.parametrize("lang", ["en", "zh"])
    def test_optimizer_content_in_both_languages(self, lang):
        change = last_change([_step(0, _view(3, 0.12)), _step(1, _view(4, 0.1))], 1, "opt", lang)
        text = optimizer_content(_view(4, 0.1), change, lang).plain
        assert "opt  Adam" in text and "lr 0.01" in text and "foreach" not in text
        assert ("· optimizer ·" if lang == "en" else "· 优化器 ·") in text
        assert "exp_avg ‖·‖ 0.1" in text and "exp_avg_sq ‖·‖ 0.003" in text
        assert ("step 3 → 4" if lang == "en" else "步数 3 → 4") in text
        assert ("moving average of the gradient" if lang == "en" else "梯度的滑动平均") in text
        assert ("by line 5" if lang == "en" else "由第 5 行造成") in text

    def test_sgd_without_a_step_count_says_so(self):
        view = OptimizerView("sgd", "SGD", 0.1, 0)
        assert "SGD keeps no step count" in optimizer_content(view, None).plain
        assert "SGD 不记录步数" in optimizer_content(view, None, "zh").plain

    def test_a_parameter_shows_its_optimizer_state_and_aliases(self):
        t = TensorView("net.w", (2,), "float32", "cpu", True, True, None, 0, 2, kind="parameter",
                       aliases=("w",))
        assert state_lines(t, (_view(4, 0.12),)) == [
            "Adam state (opt): exp_avg ‖·‖ 0.12, exp_avg_sq ‖·‖ 0.003, step 4"]
        text = tensor_content(t, "en", optimizers=(_view(4, 0.12),)).plain
        assert "also reached as: w" in text and "Adam state (opt)" in text
        assert "Adam 状态（opt）" in tensor_content(t, "zh", optimizers=(_view(4, 0.12),)).plain


class TestTraceReport:
    def test_trace_says_when_an_optimizer_appears_and_what_its_steps_change(self, write_script):
        trace = _record(write_script, "Adam(model.parameters(), lr=0.01)")
        text = trace_report(trace)
        assert "+ opt: Adam, tensors: 2" in text
        assert "~ opt: step — → 1" in text and "~ opt: step 1 → 2" in text
        assert "~ opt: model.weight exp_avg ‖·‖ — → " in text
        assert "~ opt: step 1 → 2" not in trace_report(trace, "zh") and "~ opt: 步数 1 → 2" in trace_report(
            trace, "zh")


PILOT = TRAIN.format(make="Adam(model.parameters(), lr=0.01)")


async def at_done(pilot, app) -> None:
    """Continue to the breakpoint after the loop."""
    await wait_until(pilot, lambda: app.current_step is not None and app.current_step.line == DONE_LINE
                     and app.state == "paused", "the breakpoint")


class TestInspector:
    @pytest.mark.parametrize("lang", ["en", "zh"])
    async def test_picking_an_optimizer_shows_it_and_what_step_changed(self, write_script, lang):
        app = TensorScopeApp(str(write_script(PILOT)), breakpoints=(DONE_LINE,), lang=lang)
        async with app.run_test(size=(120, 40)) as pilot:
            await paused(pilot, app, "the first line")
            await pilot.press("c")
            await at_done(pilot, app)
            app.tensors.post_message(TensorTable.Picked("optimizer:opt"))
            await wait_until(pilot, lambda: app.inspector.showing == "optimizer:opt", "the optimizer shown")
            text = str(app.inspector.body.render())
            assert "Adam" in text and "exp_avg" in text and "model.weight" in text
            assert ("step 1 → 2" if lang == "en" else "步数 1 → 2") in text
            view = _opt(app.current_step)
            weight = next(p for p in view.params if p.name == "model.weight")
            assert f"{weight.state[0].norm:.4g}" in text and not math.isnan(weight.state[0].norm or 0)

    async def test_a_parameter_shows_the_state_its_optimizer_keeps(self, write_script):
        app = TensorScopeApp(str(write_script(PILOT)), breakpoints=(DONE_LINE,))
        async with app.run_test(size=(120, 40)) as pilot:
            await paused(pilot, app, "the first line")
            await pilot.press("c")
            await at_done(pilot, app)
            app.tensors.post_message(TensorTable.Picked("model.weight"))
            await wait_until(pilot, lambda: app.inspector.showing == "tensor:model.weight", "the weight")
            text = str(app.inspector.body.render())
            assert "Adam state (opt): exp_avg ‖·‖" in text and "step 2" in text
