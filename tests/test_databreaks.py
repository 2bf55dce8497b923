"""Data breakpoints (#16 item 4): the live detector (`engine/databreaks.py`) on real frames, driven as the
engine drives it (`check` at every line event). The replay's side: tests/test_databreaks_replay.py."""

from __future__ import annotations

import gc
import linecache
import sys
import types
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import torch

from tensorscope.engine import databreaks
from tensorscope.engine.databreaks import DataBreaks
from tensorscope.engine.stopon import StopOn, parse_all
from tensorscope.model import Flag, PauseReason

Stops = list[tuple[str, PauseReason]]


def stops(fn: Callable[[], Any], *specs: str, flags: list[Flag] | None = None,
          also: tuple[Callable[..., Any], ...] = (), **kw: Any) -> Stops:
    """Run `fn` with `DataBreaks.check` called at every line event of its frame (and of the functions
    `also`), as the engine does: (the line that had just run, why it paused) for every trigger."""
    db = DataBreaks(parse_all(specs), **kw)
    code = fn.__code__
    traced = {code} | {f.__code__ for f in also}
    found: Stops = []
    prev: list[int] = []

    def local(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            reason = db.check(frame, flags if flags is not None else [])
            if reason is not None:
                found.append((linecache.getline(code.co_filename, prev[-1]).strip(), reason))
            prev.append(frame.f_lineno)
        return local

    def start(frame: types.FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code in traced else None

    sys.settrace(start)
    try:
        fn()
    finally:
        sys.settrace(None)
    return found


# -- nothing set, nothing done ----------------------------------------------------------------------


def test_no_specs_is_inactive_and_never_pauses() -> None:
    db = DataBreaks(())
    assert not db.active
    w = torch.zeros(3)
    assert db.check(sys._getframe(), []) is None
    w.add_(1)
    assert db.check(sys._getframe(), []) is None
    assert DataBreaks((StopOn("nan"),)).active


# -- change:NAME ------------------------------------------------------------------------------------


def test_change_values_in_place() -> None:
    def script() -> None:
        w = torch.zeros(3)
        w.add_(1)
        _ = w.sum()

    assert stops(script, "change:w") == [("w.add_(1)", PauseReason("changed", "w", "values"))]


def test_no_false_trigger_when_nothing_changed() -> None:
    def script() -> None:
        w = torch.arange(6.0)
        x = w * 2
        w = w.clone()  # another tensor, the same values
        y = w.view(2, 3)
        w.add_(0)  # a version bump that changes no value
        _ = (x, y)

    assert stops(script, "change:w") == []


def test_a_name_first_appearing_is_the_baseline() -> None:
    def script() -> None:
        x = 1
        w = torch.ones(2)
        x += 1
        w = w + 1
        _ = x

    assert stops(script, "change:w") == [("w = w + 1", PauseReason("changed", "w", "values"))]


def test_rebinding_to_other_values_counts() -> None:
    def script() -> None:
        h = torch.ones(4)
        h = torch.ones(4) * 3
        _ = h

    assert stops(script, "change:h") == [("h = torch.ones(4) * 3", PauseReason("changed", "h", "values"))]


@pytest.mark.parametrize(("line", "detail"), [
    ("w = torch.zeros(4)", "shape 3 → 4"),
    ("w = torch.zeros(())", "shape 3 → ()"),
    ("w = w.reshape(3, 1)", "shape 3 → 3×1"),
    ("w = w.double()", "dtype float32 → float64"),
    ("w = w.to('meta')", "device cpu → meta"),
    ("w.requires_grad_()", "requires_grad False → True"),
    ("w = w.double().reshape(1, 3)", "shape 3 → 1×3, dtype float32 → float64"),
])
def test_change_details(line: str, detail: str) -> None:
    filename = f"<change {line}>"
    lines = ["def script():\n", "    w = torch.zeros(3)\n", f"    {line}\n", "    _ = w\n"]
    namespace: dict[str, Any] = {"torch": torch}
    exec(compile("".join(lines), filename, "exec"), namespace)
    linecache.cache[filename] = (0, None, lines, filename)  # (the source the detector reads a line from)
    try:
        assert stops(namespace["script"], "change:w") == [(line, PauseReason("changed", "w", detail))]
    finally:
        del linecache.cache[filename]


def test_the_device_is_written_as_the_run_shows_it() -> None:
    moved: list[torch.Tensor] = []

    def shown(t: torch.Tensor) -> str:
        return "cuda:0" if any(t is m for m in moved) else "cpu"

    def script() -> None:
        w = torch.zeros(3)
        moved.append(w)  # (what a simulated `.to("cuda")` does: the same storage, another device shown)
        _ = w

    assert stops(script, "change:w", device_name=shown) == [
        ("moved.append(w)  # (what a simulated `.to(\"cuda\")` does: the same storage, another device shown)",
         PauseReason("changed", "w", "device cpu → cuda:0"))]


def test_a_data_write_is_caught_though_the_version_stays() -> None:
    def script() -> None:
        small = torch.zeros(5)
        big = torch.zeros(1000, 1000)
        small.data[2] += 1
        big.data[0, 5] += 1  # one element the probe does not sample: the line's `.data` says to look
        _ = big

    assert stops(script, "change:small", "change:big") == [
        ("small.data[2] += 1", PauseReason("changed", "small", "values")),
        ("big.data[0, 5] += 1  # one element the probe does not sample: the line's `.data` says to look",
         PauseReason("changed", "big", "values")),
    ]


def test_a_write_through_shared_memory_is_caught_by_the_probe() -> None:
    import numpy as np

    def script() -> None:
        a = np.zeros(2000, dtype=np.float32)
        t = torch.from_numpy(a)
        a[:] = 1  # (the tensor's version stays; the line names no tensor)
        _ = t

    assert stops(script, "change:t") == [
        ("a[:] = 1  # (the tensor's version stays; the line names no tensor)",
         PauseReason("changed", "t", "values"))]


def test_a_name_not_in_scope_or_not_a_tensor_never_pauses() -> None:
    def script() -> None:
        n = 1
        n += 1
        w = torch.zeros(2)
        w.add_(1)
        _ = n

    assert stops(script, "change:missing", "change:n", "grad:missing", "change:w.nothing") == []


def test_names_are_read_from_locals_then_globals() -> None:
    db = DataBreaks((StopOn("change", "torch"), StopOn("change", "GLOBAL_T")))
    frame = sys._getframe()
    assert db.check(frame, []) is None
    GLOBAL_T.add_(1)
    try:
        assert db.check(frame, []) == PauseReason("changed", "GLOBAL_T", "values")
    finally:
        GLOBAL_T.sub_(1)


GLOBAL_T = torch.zeros(2)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        self.register_buffer("mean", torch.zeros(2))


def test_dotted_module_parameter_and_buffer_names() -> None:
    def script() -> None:
        net = Net()
        with torch.no_grad():
            net.fc.weight.mul_(2)
        net.mean.fill_(1.0)
        _ = net

    assert stops(script, "change:net.fc.weight", "change:net.mean", "change:net.fc") == [
        ("net.fc.weight.mul_(2)", PauseReason("changed", "net.fc.weight", "values")),
        ("net.mean.fill_(1.0)", PauseReason("changed", "net.mean", "values")),
    ]


def test_a_sequential_child_by_its_index() -> None:
    db = DataBreaks((StopOn("change", "net.0.weight"), StopOn("grad", "net.0.bias")))
    net = torch.nn.Sequential(torch.nn.Linear(2, 2))
    assert db.check(sys._getframe(), []) is None
    with torch.no_grad():
        net[0].weight.add_(1)
    assert db.check(sys._getframe(), []) == PauseReason("changed", "net.0.weight", "values")
    net(torch.ones(2)).sum().backward()
    assert db.check(sys._getframe(), []) == PauseReason("grad", "net.0.bias", "written")


class Sneaky:
    """An object whose attributes run code when read: a data breakpoint must never run it."""

    calls = 0

    @property
    def w(self) -> torch.Tensor:
        Sneaky.calls += 1
        return torch.full((2,), float(Sneaky.calls))

    def __getattr__(self, name: str) -> torch.Tensor:
        Sneaky.calls += 1
        return torch.full((2,), float(Sneaky.calls))


def test_properties_and_getattr_never_run() -> None:
    Sneaky.calls = 0

    def script() -> None:
        s = Sneaky()
        x = 1
        x += 1
        _ = (s, x)

    assert stops(script, "change:s.w", "change:s.other", "grad:s.w", "nan") == []
    assert Sneaky.calls == 0


def test_reading_leaves_no_trace_on_the_scripts_tensors() -> None:
    db = DataBreaks(parse_all(["change:w", "grad:w", "nan", "change:m.weight"]))

    def script() -> weakref.ref[torch.Tensor]:
        w = torch.ones(3, requires_grad=True)
        m = torch.nn.Linear(2, 2)
        w.sum().backward()
        before = dict(w.__dict__)
        for _ in range(3):
            db.check(sys._getframe(), [])
        assert weakref.getweakrefcount(w) == 0 and weakref.getweakrefcount(m.weight) == 0
        assert dict(w.__dict__) == before and not hasattr(w, "_tensorscope")
        return weakref.ref(w)

    gone = script()
    gc.collect()
    assert gone() is None  # nothing kept it alive


def test_a_tensor_of_the_same_name_in_another_function_is_not_a_change() -> None:
    def helper(n: int) -> torch.Tensor:
        w = torch.ones(n)
        w = w * 2
        return w

    def script() -> None:
        w = torch.zeros(3)
        helper(5)
        w.add_(1)
        _ = w

    assert stops(script, "change:w", also=(helper,)) == [
        ("w = w * 2", PauseReason("changed", "w", "values")),
        ("w.add_(1)", PauseReason("changed", "w", "values")),
    ]


def test_the_same_tensor_under_its_name_in_a_called_function_changes_once() -> None:
    def update(w: torch.Tensor) -> None:
        w.add_(1)
        return None

    def script() -> None:
        w = torch.zeros(3)
        update(w)
        _ = w

    assert stops(script, "change:w", "grad:w", also=(update,)) == [
        ("w.add_(1)", PauseReason("changed", "w", "values"))]


# -- grad:NAME --------------------------------------------------------------------------------------


def test_grad_written_accumulated_zeroed_set_to_none() -> None:
    def script() -> None:
        w = torch.ones(3, requires_grad=True)
        loss = (w * 2).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        x = 1
        w.grad.zero_()
        w.grad = None
        x += 1
        _ = x

    assert stops(script, "grad:w") == [
        ("loss.backward(retain_graph=True)", PauseReason("grad", "w", "written")),
        ("loss.backward()", PauseReason("grad", "w", "written")),
        ("w.grad.zero_()", PauseReason("grad", "w", "zeroed")),
        ("w.grad = None", PauseReason("grad", "w", "set to None")),
    ]


def test_grad_of_a_module_parameter_with_an_optimizer() -> None:
    def script() -> None:
        net = Net()
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        net(torch.ones(1, 2)).sum().backward() if False else net.fc(torch.ones(1, 2)).sum().backward()
        opt.step()
        opt.zero_grad()
        opt.zero_grad()

    assert stops(script, "grad:net.fc.weight") == [
        ("net(torch.ones(1, 2)).sum().backward() if False else net.fc(torch.ones(1, 2)).sum().backward()",
         PauseReason("grad", "net.fc.weight", "written")),
        ("opt.zero_grad()", PauseReason("grad", "net.fc.weight", "set to None")),
    ]


def test_grad_replaced_by_another_tensor_of_the_same_values_counts() -> None:
    def script() -> None:
        w = torch.ones(2, requires_grad=True)
        w.grad = torch.ones(2)
        w.grad = torch.ones(2)
        w.grad = torch.zeros(2)
        _ = w

    assert stops(script, "grad:w") == [
        ("w.grad = torch.ones(2)", PauseReason("grad", "w", "written")),
        ("w.grad = torch.ones(2)", PauseReason("grad", "w", "written")),
        ("w.grad = torch.zeros(2)", PauseReason("grad", "w", "zeroed")),
    ]


def test_change_of_a_grad_by_its_dotted_name() -> None:
    def script() -> None:
        w = torch.ones(2, requires_grad=True)
        w.grad = torch.ones(2)
        w.grad.mul_(3)
        _ = w

    assert stops(script, "change:w.grad") == [("w.grad.mul_(3)", PauseReason("changed", "w.grad", "values"))]


# -- nan ----------------------------------------------------------------------------------------------


def test_nan_and_inf_pause_once_when_they_appear() -> None:
    def script() -> None:
        z = torch.zeros(3)
        y = z / z
        y = y + 1  # still NaN: no new pause
        big = torch.ones(2) / 0
        n = torch.arange(3)
        z[0] = float("inf")
        _ = (y, big, n)

    assert stops(script, "nan") == [
        ("y = z / z", PauseReason("nan", "y", "NaN")),
        ("big = torch.ones(2) / 0", PauseReason("nan", "big", "Inf")),
        ('z[0] = float("inf")', PauseReason("nan", "z", "Inf")),
    ]


def test_nan_in_module_parameters_and_containers() -> None:
    def script() -> None:
        net = Net()
        xs = [torch.ones(1), torch.ones(1)]
        with torch.no_grad():
            net.fc.bias[1] = float("nan")
        xs[1] = torch.tensor([float("-inf")])
        _ = xs

    assert stops(script, "nan") == [
        ('net.fc.bias[1] = float("nan")', PauseReason("nan", "net.fc.bias", "NaN")),
        ('xs[1] = torch.tensor([float("-inf")])', PauseReason("nan", "xs[1]", "Inf")),
    ]


def test_a_nan_tensor_passed_to_a_function_is_not_news_there() -> None:
    def mean(t: torch.Tensor) -> torch.Tensor:
        m = t.mean()
        return m

    def script() -> None:
        x = torch.tensor([1.0, float("nan")])
        m = mean(x)
        _ = m

    assert stops(script, "nan", also=(mean,)) == [('x = torch.tensor([1.0, float("nan")])',
                                                  PauseReason("nan", "x", "NaN")),
                                                 ("m = t.mean()", PauseReason("nan", "m", "NaN"))]


def test_nan_written_through_data_is_caught() -> None:
    def script() -> None:
        w = torch.zeros(1000, 1000)
        w.data[0, 5] = float("nan")
        _ = w

    assert stops(script, "nan") == [('w.data[0, 5] = float("nan")', PauseReason("nan", "w", "NaN"))]


def test_unchanged_tensors_are_not_scanned_again(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: list[tuple[int, ...]] = []
    real = databreaks._nonfinite

    def counting(t: torch.Tensor) -> tuple[bool, bool]:
        scanned.append(tuple(t.shape))
        return real(t)

    monkeypatch.setattr(databreaks, "_nonfinite", counting)

    def script() -> None:
        a = torch.ones(100, 100)
        b = torch.ones(7)
        x = 1
        x += 1
        x += 1
        b.add_(1)
        _ = (a, x)

    assert stops(script, "nan") == []
    assert scanned.count((100, 100)) == 1 and scanned.count((7,)) == 2


def test_locals_of_a_function_only_not_the_globals() -> None:
    globals()["GLOBAL_NAN"] = torch.tensor([float("nan")])
    try:
        def script() -> None:
            x = 1
            x += 1

        assert stops(script, "nan") == []
    finally:
        del globals()["GLOBAL_NAN"]


def test_the_first_trigger_wins_and_the_others_are_consumed() -> None:
    def script() -> None:
        w = torch.ones(2, requires_grad=True)
        w.grad = torch.ones(2)
        with torch.no_grad():
            w.mul_(float("nan"))
        x = 1
        x += 1

    assert stops(script, "grad:w", "change:w", "nan") == [
        ("w.grad = torch.ones(2)", PauseReason("grad", "w", "written")),
        ('w.mul_(float("nan"))', PauseReason("changed", "w", "values")),
    ]
    assert stops(script, "nan", "change:w") == [('w.mul_(float("nan"))', PauseReason("nan", "w", "NaN"))]
