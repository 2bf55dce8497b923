"""`non-leaf-grad`: `.grad` read on a tensor that is not a leaf, so it is None (PyTorch also warns).

Checked before the line runs, from the names whose `.grad` the line reads; the tensor's `is_leaf` and
`retains_grad` are looked at, never its `.grad`, so no warning of ours reaches the user.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, ClassVar

import torch

from tensorscope.checks.base import Check
from tensorscope.checks.support.line_info import line_info
from tensorscope.checks.support.resolve import lookup
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext


class NonLeafGrad(Check):
    """Flags `y.grad` where `y` was computed (has a grad_fn) and does not retain its gradient."""

    code: ClassVar[str] = "non-leaf-grad"
    wants_lines = True

    def __init__(self) -> None:
        self._flagged: set[tuple[str, int, str]] = set()

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        info = line_info(ctx, frame, line)
        if not info.grad_reads:
            return
        for name in info.grad_reads:
            key = (frame.f_code.co_filename, line, name)
            if key in self._flagged:
                continue
            t = lookup(frame, name)
            if not is_a(t, torch.Tensor) or t.is_leaf or t.retains_grad:
                continue
            self._flagged.add(key)
            gf = t.grad_fn
            data = {"name": name, "grad_fn": gf.name() if gf is not None else "?"}
            self.flag(ctx, "info", data, tensors=(name,), line=line)
