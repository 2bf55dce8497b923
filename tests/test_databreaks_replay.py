"""Data breakpoints in a replay (#16 item 4): `databreaks_replay.replay_reason` on recorded Steps."""

from __future__ import annotations

from typing import Any

import pytest

from tensorscope.databreaks_replay import replay_reason
from tensorscope.engine.stopon import StopOn
from tensorscope.model import Flag, GradView, PauseReason, Stats, Step, TensorView, Trace


def _flag(code: str, message: str = "m") -> Flag:
    return Flag(code, "warning", 1, "f", message, "h")


def tv(name: str = "w", shape: tuple[int, ...] = (3,), **kw: Any) -> TensorView:
    base: dict[str, Any] = dict(name=name, shape=shape, dtype="float32", device="cpu", requires_grad=False,
                                is_leaf=True, grad_fn=None, version=0, numel=3, preview="[0, 0, 0]",
                                stats=Stats(0.0, 0.0, 0.0, 0.0))
    base.update(kw)
    return TensorView(**base)


def step(*tensors: TensorView, index: int = 0, flags: tuple[Flag, ...] = ()) -> Step:
    return Step(index=index, file="s.py", line=index + 1, function="<module>", depth=0, tensors=tensors,
                flags=flags)


CHANGE = (StopOn("change", "w"),)


@pytest.mark.parametrize(("after", "detail"), [
    (tv(preview="[0, 1, 0]", stats=Stats(0.0, 1.0, 0.3333, 0.5774)), "values"),
    (tv(preview=None, stats=Stats(0.0, 1.0, 0.3333, 0.5774), numel=300), "values"),
    (tv(shape=(4,), preview="[0, 0, 0, 0]"), "shape 3 → 4"),
    (tv(dtype="float64"), "dtype float32 → float64"),
    (tv(device="cuda:0"), "device cpu → cuda:0"),
    (tv(requires_grad=True), "requires_grad False → True"),
])
def test_replay_change(after: TensorView, detail: str) -> None:
    assert replay_reason(step(tv()), step(after, index=1), CHANGE) == PauseReason("changed", "w", detail)


def test_replay_change_none_when_the_same_absent_or_first() -> None:
    assert replay_reason(step(tv()), step(tv(version=3), index=1), CHANGE) is None  # same values
    assert replay_reason(step(tv()), step(tv("x"), index=1), CHANGE) is None
    assert replay_reason(step(tv("x")), step(tv(), index=1), CHANGE) is None
    assert replay_reason(None, step(tv()), CHANGE) is None
    big = {"preview": None, "stats": None, "numel": 10**7}
    assert replay_reason(step(tv(**big)), step(tv(**big), index=1), CHANGE) is None
    assert replay_reason(step(tv(**big)), step(tv(version=1, **big), index=1), CHANGE) == PauseReason(
        "changed", "w", "values")


def test_replay_nan_stats_read_back_from_json_are_unchanged() -> None:
    nan = float("nan")
    t = tv(preview="[nan, nan, nan]", stats=Stats(nan, nan, nan, nan, nan=3))
    trace = Trace(script="s.py", steps=(step(t), step(t, index=1)))
    back = Trace.from_dict(trace.to_dict())
    assert replay_reason(back.steps[0], back.steps[1], CHANGE + (StopOn("nan"),)) is None


def test_replay_grad() -> None:
    g = GradView((3,), "float32", "cpu", norm=2.0)
    spec = (StopOn("grad", "w"),)
    assert replay_reason(step(tv()), step(tv(grad=g), index=1), spec) == PauseReason("grad", "w", "written")
    assert replay_reason(step(tv(grad=g)), step(tv(grad=GradView((3,), "float32", "cpu", norm=3.0)), index=1),
                         spec) == PauseReason("grad", "w", "written")
    assert replay_reason(step(tv(grad=g)), step(tv(grad=GradView((3,), "float32", "cpu", norm=0.0)), index=1),
                         spec) == PauseReason("grad", "w", "zeroed")
    assert replay_reason(step(tv(grad=g)), step(tv(), index=1), spec) == PauseReason(
        "grad", "w", "set to None")
    assert replay_reason(step(tv(grad=g)), step(tv(grad=g), index=1), spec) is None
    assert replay_reason(step(tv()), step(tv(), index=1), spec) is None


def test_replay_nan() -> None:
    spec = (StopOn("nan"),)
    bad = tv("y", stats=Stats(0.0, 1.0, 0.5, 0.5, nan=1))
    inf = tv("y", stats=Stats(0.0, 1.0, 0.5, 0.5, nan=1, inf=2))
    assert replay_reason(step(tv("y")), step(tv(), bad, index=1), spec) == PauseReason("nan", "y", "NaN")
    assert replay_reason(None, step(bad), spec) == PauseReason("nan", "y", "NaN")
    assert replay_reason(step(bad), step(bad, index=1), spec) is None
    assert replay_reason(step(bad), step(inf, index=1), spec) == PauseReason("nan", "y", "Inf")


def test_replay_flag() -> None:
    spec = (StopOn("flag", "device-mismatch"),)
    flags = (_flag("nan-inf"), _flag("device-mismatch", "x is on cpu"))
    assert replay_reason(step(), step(index=1, flags=flags), spec) == PauseReason(
        "flag", "device-mismatch", "x is on cpu")
    assert replay_reason(step(), step(index=1, flags=flags[:1]), spec) is None
    assert replay_reason(step(), step(index=1), ()) is None
