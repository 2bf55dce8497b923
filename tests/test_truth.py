"""What a pause shows is true: values changed without a version bump, inference tensors, cut containers,
one tensor under several names (#14 items 1, 3 and 5's inference mode)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tensorscope.diff import narrate
from tensorscope.engine import Session
from tensorscope.engine.collect import CONTAINER_LISTED, StatsCache, collect
from tensorscope.model import Step, Trace
from tensorscope.report import trace_report

Write = Callable[..., Path]


def record(path: Path) -> list[Step]:
    return list(Session(str(path)).record().steps)


def after_line(steps: list[Step], line: int) -> int:
    """Index of the step just after `line` ran (its first run)."""
    return next(i for i, s in enumerate(steps) if s.prev_line == line)


def true_stats(values: list[float]) -> tuple[float, float, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.min()), float(t.max()), float(t.mean())


# --- 1. values and statistics are the tensor's values at the pause -----------------------------------

DATA_WRITE = """
import numpy as np
import torch
big = torch.zeros(1000)
big.data += 1.0
arr = np.zeros(100, dtype=np.float32)
shared = torch.from_numpy(arr)
arr[:] = 2.0
small_arr = np.array([1.0, 2.0, 3.0])
small = torch.from_numpy(small_arr)
small_arr[0] = -1.0
done = 1
"""


def test_a_data_write_updates_stats_and_is_narrated(write_script: Write) -> None:
    steps = record(write_script(DATA_WRITE))
    i = after_line(steps, 4)
    big = steps[i].tensor("big")
    assert big is not None and big.stats is not None and big.version == 0
    assert (big.stats.min, big.stats.max, big.stats.mean) == (1.0, 1.0, 1.0)
    assert narrate(steps[i - 1], steps[i]) == ["big got new values (1000)"]
    assert narrate(steps[i - 1], steps[i], "zh") == ["big 得到新值（1000）"]


def test_a_numpy_write_into_shared_memory_updates_stats_and_is_narrated(write_script: Write) -> None:
    steps = record(write_script(DATA_WRITE))
    i = after_line(steps, 7)
    shared = steps[i].tensor("shared")
    assert shared is not None and shared.stats is not None
    assert (shared.stats.min, shared.stats.max, shared.stats.mean) == (2.0, 2.0, 2.0)
    assert narrate(steps[i - 1], steps[i]) == ["shared got new values (100)"]


def test_small_values_and_their_stats_agree_after_a_numpy_write(write_script: Write) -> None:
    steps = record(write_script(DATA_WRITE))
    i = after_line(steps, 10)
    small = steps[i].tensor("small")
    assert small is not None and small.preview == "[-1, 2, 3]" and small.stats is not None
    assert (small.stats.min, small.stats.max, small.stats.mean) == true_stats([-1.0, 2.0, 3.0])
    assert narrate(steps[i - 1], steps[i]) == ["small = [-1, 2, 3] (was [1, 2, 3])"]
    end = steps[-1].tensor("small")
    assert end is not None and end.stats is not None and end.stats.min == -1.0


def test_tensor_basics_ends_with_true_stats_beside_its_values() -> None:
    steps = record(Path(__file__).parent.parent / "scenarios" / "tensor_basics.py")
    from_np = steps[-1].tensor("from_np")
    assert from_np is not None and from_np.preview == "[-1, 2, 3]" and from_np.stats is not None
    assert (from_np.stats.min, from_np.stats.max) == (-1.0, 3.0)


def test_the_trace_json_carries_the_new_stats(write_script: Write) -> None:
    trace = Trace.from_json(Session(str(write_script(DATA_WRITE))).record().to_json())
    big = trace.steps[-1].tensor("big")
    assert big is not None and big.stats is not None and big.stats.mean == 1.0
    assert "~ big: mean 0, std 0 → mean 1, std 0" in trace_report(trace)


def test_unchanged_tensors_keep_their_view_and_a_changed_one_gets_a_new_one() -> None:
    cache = StatsCache()
    t = torch.arange(100, dtype=torch.float32)
    first = collect({"t": t}, cache).tensors[0]
    assert collect({"t": t}, cache).tensors[0] is first  # nothing changed: not recomputed
    t.data[5] = -7.0
    second = collect({"t": t}, cache).tensors[0]
    assert second is not first and second.stats is not None and second.stats.min == -7.0
    assert t._version == 0


def test_a_gradient_written_through_data_is_shown_new() -> None:
    cache = StatsCache()
    w = torch.zeros(3, requires_grad=True)
    w.grad = torch.ones(3)
    assert collect({"w": w}, cache).tensors[0].grad.preview == "[1, 1, 1]"  # type: ignore[union-attr]
    w.grad.data.mul_(3.0)
    grad = collect({"w": w}, cache).tensors[0].grad
    assert grad is not None and grad.preview == "[3, 3, 3]" and grad.norm == pytest.approx(math.sqrt(27))


# --- 3. inference mode -------------------------------------------------------------------------------

INFERENCE = """
import torch
w = torch.ones(2)
with torch.inference_mode():
    out = torch.ones(3) * 2
    out.add_(1)
    w.add_(1)
done = 1
"""


def test_tensors_made_under_inference_mode_are_listed_with_true_values(write_script: Write) -> None:
    steps = record(write_script(INFERENCE))
    i = after_line(steps, 4)
    assert steps[i].inference_mode and not steps[i].grad_enabled
    out = steps[i].tensor("out")
    assert out is not None and out.preview == "[2, 2, 2]" and out.version == 0
    j = after_line(steps, 5)
    changed = steps[j].tensor("out")
    assert changed is not None and changed.preview == "[3, 3, 3]"
    assert changed.stats is not None and changed.stats.mean == 3.0
    assert not steps[-1].inference_mode and steps[-1].tensor("out") is not None


def test_narration_and_trace_say_inference_mode(write_script: Write) -> None:
    path = write_script(INFERENCE)
    trace = Session(str(path)).record()
    steps = list(trace.steps)
    i = after_line(steps, 3)
    said = narrate(steps[i - 1], steps[i])
    assert said[0].startswith("inference mode ON (torch.inference_mode())")
    assert "no_grad" not in " ".join(said)
    assert narrate(steps[i - 1], steps[i], "zh")[0].startswith("推理模式开启")
    k = after_line(steps, 6)
    said = " ".join(narrate(steps[k - 1], steps[k]))
    assert "w changed in place (version 0 → 1) under inference mode" in said
    assert "在推理模式下" in " ".join(narrate(steps[k - 1], steps[k], "zh"))
    off = next(i for i in range(1, len(steps)) if steps[i - 1].inference_mode and not steps[i].inference_mode)
    assert steps[off].line == 7 and "inference mode OFF" in narrate(steps[off - 1], steps[off])
    text = trace_report(trace)
    assert "inference mode on" in text and "inference mode off" in text
    assert "推理模式开启" in trace_report(trace, "zh")


def test_an_error_while_collecting_is_recorded_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = StatsCache()

    def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cache, "view", broken)
    errors: list[str] = []
    seen = collect({"a": torch.ones(2)}, cache, on_error=lambda who, exc: errors.append(f"{who}: {exc}"))
    assert seen.tensors == () and errors == ["engine (collect a): boom"]
    with pytest.raises(RuntimeError, match="boom"):
        collect({"a": torch.ones(2)}, cache)


# --- 3. containers cut after CONTAINER_LISTED tensors ------------------------------------------------

CONTAINERS = """
import torch
xs = [torch.ones(1) * i for i in range(70)]
d = {i: torch.zeros(1) for i in range(66)}
few = (torch.ones(1), 3, torch.ones(2))
done = 1
"""


def test_a_long_container_lists_64_and_counts_the_rest(write_script: Write) -> None:
    trace = Session(str(write_script(CONTAINERS))).record()
    last = trace.steps[-1]
    names = [t.name for t in last.tensors]
    assert CONTAINER_LISTED == 64
    assert [n for n in names if n.startswith("xs[")] == [f"xs[{i}]" for i in range(64)]
    assert [n for n in names if n.startswith("d[")] == [f"d[{i}]" for i in range(64)]
    assert [n for n in names if n.startswith("few[")] == ["few[0]", "few[2]"]
    assert last.more == (("xs", 6), ("d", 2))
    text = trace_report(trace)
    assert text.count("… 6 more in xs (not listed)") == 1 and "… 2 more in d (not listed)" in text
    assert "… xs 中还有 6 个（未列出）" in trace_report(trace, "zh")


def test_step_more_and_aliases_survive_the_json_round_trip(write_script: Write) -> None:
    trace = Session(str(write_script(CONTAINERS + "ys = xs[0]\n"))).record()
    back = Trace.from_json(trace.to_json())
    assert back == trace
    assert back.steps[-1].more == (("xs", 6), ("d", 2)) and isinstance(back.steps[-1].more[0], tuple)
    first = back.steps[-1].tensor("xs[0]")
    assert first is not None and first.aliases == ("ys",)


# --- 3. one tensor, several names --------------------------------------------------------------------

ALIASES = """
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(2, 1)

    def forward(self, x):
        return self.fc1(x)

net = Net()
model = net
w = net.fc1.weight
y = model(torch.ones(1, 2))
"""


def test_a_tensor_reached_under_two_names_is_listed_once_with_its_aliases(write_script: Write) -> None:
    steps = record(write_script(ALIASES))
    last = steps[-1]
    weights = [t for t in last.tensors if t.name.endswith("weight") or "w" in t.aliases]
    assert len(weights) == 1
    assert weights[0].name == "net.fc1.weight" and weights[0].aliases == ("model.fc1.weight", "w")
    assert last.tensor("w") is weights[0] and last.tensor("model.fc1.weight") is weights[0]
    assert [t.name for t in last.tensors].count("net.fc1.bias") == 1


def test_inside_a_method_self_names_the_tensor_and_the_global_is_an_alias(write_script: Write) -> None:
    steps = record(write_script(ALIASES))
    inside = next(s for s in steps if s.function == "forward")
    weight = inside.tensor("self.fc1.weight")
    assert weight is not None and weight.name == "self.fc1.weight"
    assert weight.aliases == ("net.fc1.weight", "model.fc1.weight", "w")
    assert inside.tensor("net.fc1.weight") is weight


def test_graph_leaves_keep_the_first_name(write_script: Write) -> None:
    steps = record(write_script(ALIASES))
    y = steps[-1].tensor("y")
    assert y is not None
    leaves = {n.leaf for n in y.graph if n.leaf is not None}
    assert "net.fc1.weight" in leaves and "w" not in leaves


def test_the_trace_says_a_new_name_is_the_same_tensor_and_says_nothing_on_entering_a_method(
        write_script: Write) -> None:
    trace = Session(str(write_script(ALIASES))).record()
    text = trace_report(trace)
    assert "+ model.fc1.weight is net.fc1.weight (the same tensor)" in text
    assert "+ w is net.fc1.weight (the same tensor)" in text
    assert text.count("+ self.fc1.weight") == 1  # made in __init__; entering forward: the same tensor

