"""One shape notation (tensorscope/shapes.py): the same tensor has the same shape text everywhere, and a
1-element vector is never written like a scalar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from tensorscope.checks.registry import default_checks
from tensorscope.checks.support.text import shape_text as naming_shape_text
from tensorscope.diff import diff_steps, grad_text, narrate
from tensorscope.engine import Session
from tensorscope.model import GradView, Step, TensorView
from tensorscope.report import format_change
from tensorscope.shapes import SCALAR, shape_text
from tensorscope.tui.tensors import cells


def view(shape: tuple[int, ...], name: str = "t") -> TensorView:
    numel = 1
    for d in shape:
        numel *= d
    return TensorView(name=name, shape=shape, dtype="float32", device="cpu", requires_grad=False,
                      is_leaf=True, grad_fn=None, version=0, numel=numel)


def test_the_notation() -> None:
    assert shape_text(torch.zeros(4, 1).shape) == "4×1"
    assert shape_text(torch.zeros(3).shape) == "3"
    assert shape_text(torch.zeros(1).shape) == "1"
    assert shape_text(torch.tensor(2.0).shape) == SCALAR == "()"
    assert shape_text(torch.zeros(4, 1, 28, 28).shape) == "4×1×28×28"
    assert shape_text(torch.zeros(0, 3).shape) == "0×3"


def test_a_one_element_vector_is_not_a_scalar() -> None:
    vector, scalar = torch.zeros(1), torch.tensor(0.0)
    assert vector.shape != scalar.shape  # (the claim: torch.Size([1]) vs torch.Size([]))
    assert shape_text(vector.shape) != shape_text(scalar.shape)


def test_every_formatter_is_the_one_function() -> None:
    for shape in ((), (1,), (3,), (4, 1), (2, 3, 4)):
        expected = shape_text(shape)
        assert view(shape).shape_text == expected
        assert naming_shape_text(shape) == expected
        assert cells(view(shape))["shape"] == expected
    g = GradView(shape=(4, 1), dtype="float32", device="cpu", norm=2.0)
    assert grad_text(g) == "4×1 (norm 2)"


def test_a_reshape_is_said_in_the_notation() -> None:
    before, after = view((4,), "x"), view((4, 1), "x")

    def step(t: TensorView, i: int) -> Step:
        return Step(index=i, file="s.py", line=i + 1, function="<module>", depth=0, event="line",
                    prev_line=i, prev_file="s.py", tensors=(t,))

    changes = diff_steps(step(before, 0), step(after, 1))
    assert "~ x.shape: 4 → 4×1" in [format_change(c) for c in changes]
    assert "x shape 4 → 4×1" in narrate(step(before, 0), step(after, 1))


SCRIPT = """\
import torch
w = torch.ones(4, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
x = torch.ones(3, 4)
loss = (x @ w + b) ** 2
loss.backward()
"""


def test_same_tensor_same_text_in_table_narration_trace_and_flag(write_script: Callable[..., Path]) -> None:
    path = write_script(SCRIPT)
    steps = list(Session(str(path)).record().steps)
    at = {s.prev_line: i for i, s in enumerate(steps) if s.prev_line}
    w_step = steps[at[2]]
    w = w_step.tensor("w")
    assert w is not None and cells(w)["shape"] == "4×1"
    assert "4×1" in narrate(steps[at[2] - 1], w_step)[0]
    b_step = steps[at[3]]
    b = b_step.tensor("b")
    assert b is not None and cells(b)["shape"] == "1"
    said = narrate(steps[at[3] - 1], b_step)[0]
    assert "shape 1" in said and "()" not in said
    new_w = next(c for c in diff_steps(steps[at[2] - 1], w_step) if c.name == "w")
    assert ": 4×1 float32" in format_change(new_w)
    loss = steps[at[5]].tensor("loss")
    assert loss is not None and cells(loss)["shape"] == "3×1"
    checked = Session(str(path), monitors=default_checks()).run(timeout=120)
    flag = next(f for f in checked.flags if f.code == "nonscalar-backward")
    assert flag.data["shape"] == "3×1" and "3×1" in flag.message


def test_a_scalar_in_the_table_and_the_narration(write_script: Callable[..., Path]) -> None:
    path = write_script("import torch\nloss = torch.ones(3).mean()\nprint()\n")
    steps = list(Session(str(path)).record().steps)
    i = next(i for i, s in enumerate(steps) if s.prev_line == 2)
    loss = steps[i].tensor("loss")
    assert loss is not None and cells(loss)["shape"] == "()"
    assert narrate(steps[i - 1], steps[i]) == ["loss created: 1 — shape (), float32"]
    assert narrate(steps[i - 1], steps[i], "zh") == ["新建 loss：1 — 形状 ()、float32"]
