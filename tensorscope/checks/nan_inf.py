"""`nan-inf`: a tensor in scope becomes NaN or Inf; flagged the first time for each tensor name.

Checked where values change: the names a line binds or changes in place (after the line ran), the
parameters of an optimizer after its `.step()` line, and the gradients a backward() wrote; and, after a
loop's passes that `check` did not observe, the names its lines bind (NaN and Inf persist). The common
all-finite case costs one reduction per tensor.
"""

from __future__ import annotations

import math
import types
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks._autograd_watch import backward_roots, leaves_written
from tensorscope.checks._source import AfterLine, LineInfo, Names, line_info, resolve
from tensorscope.checks.base import Check
from tensorscope.engine.instrument import BackwardCall, Instrument, Subscriber
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.session import Session

_MAX_NUMEL = 10_000_000
_EVERY = 10
"""Gradients and optimizer parameters are checked at each of the first calls, then every this many
(NaN and Inf persist in them once there), and always when the loss itself is not finite."""
_FIRST = 20
_FIRST_LINES = 50
_EVERY_LINE = 4
"""A line's results are checked at each of its first runs, then every few runs: NaN from divergence
persists, so it is still caught at the line that produces it."""


def _bad_values(t: torch.Tensor) -> tuple[int, int] | None:
    """(NaN count, Inf count) when `t` holds any; None when all finite (or not a float tensor)."""
    if not (t.is_floating_point() or t.is_complex()) or t.is_sparse or t.numel() == 0:
        return None
    if t.numel() > _MAX_NUMEL or t.device.type == "meta":
        return None
    with torch._C.DisableTorchFunction():
        x = t.detach()
        if x.numel() == 1:  # a loss: its value is its sum
            total = complex(x.item()) if x.is_complex() else float(x.item())
        else:
            total = complex(x.sum()) if x.is_complex() else float(x.sum())
        if isinstance(total, float) and math.isfinite(total):
            return None
        if isinstance(total, complex) and math.isfinite(total.real) and math.isfinite(total.imag):
            return None
        nan = int(torch.isnan(x).sum())
        inf = int(torch.isinf(x).sum())
    if nan == 0 and inf == 0:
        return None
    return nan, inf


def _bad_among(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """The tensors holding NaN or Inf; one fused reduction when all are finite (the usual case)."""
    dense = [t for t in tensors if t.is_floating_point() and not t.is_sparse and 0 < t.numel() <= _MAX_NUMEL
             and t.device.type != "meta"]
    if not dense:
        return []
    with torch._C.DisableTorchFunction():
        sums = torch._foreach_norm([t.detach() for t in dense], 1)
        if math.isfinite(float(torch.stack([s.to(torch.float64) for s in sums]).sum())):
            return []
    return [t for t in dense if _bad_values(t) is not None]


class NanInf(Check, Subscriber):
    """Flags the first NaN or Inf of each tensor name, at the line that produced it."""

    code: ClassVar[str] = "nan-inf"
    wants_lines = True

    def __init__(self) -> None:
        self._after = AfterLine()
        self._flagged: set[str] = set()
        self._calls: dict[str, int] = {}
        self._runs: dict[tuple[str, int], int] = {}

    def _due(self, what: str) -> bool:
        n = self._calls.get(what, 0) + 1
        self._calls[what] = n
        return n <= _FIRST or n % _EVERY == 0

    def subscribe(self, events: Instrument) -> None:
        events.on_backward(self._before, self._after_call)

    def on_line(self, ctx: Session, frame: types.FrameType, line: int) -> None:
        info = line_info(ctx, frame, line)
        if info.continuation:
            return
        if self._after.pending is not None:
            done = self._after.advance(frame, line)
            if done is not None:
                self._finished(ctx, *done)
        if info.assigned or info.steps:
            key = (frame.f_code.co_filename, line)
            n = self._runs.get(key, 0) + 1
            self._runs[key] = n
            if n <= _FIRST_LINES or n % _EVERY_LINE == 0:
                self._after.pending = (frame, line, info)

    def on_finish(self, ctx: Session) -> None:
        done, self._after.pending = self._after.pending, None
        if done is not None:
            self._finished(ctx, *done)

    def on_resume(self, ctx: Session, frame: types.FrameType, lines: frozenset[int]) -> None:
        """After unobserved passes of a loop: NaN and Inf persist, so the names its lines bind (and the
        parameters of the optimizers they step) are checked now, each at the first line binding it."""
        for line in sorted(lines):
            info = line_info(ctx, frame, line)
            if not info.continuation:
                self._finished(ctx, frame, line, info, always=True)

    def _finished(self, ctx: Session, frame: types.FrameType, line: int, info: LineInfo,
                  always: bool = False) -> None:
        """`line` of `frame` has run: check what it bound (and the parameters it stepped, when due)."""
        local = frame.f_locals
        for name in info.assigned:
            if name in self._flagged:
                continue
            value = resolve(frame, name, local)
            if is_a(value, torch.Tensor):
                self._check(ctx, name, value, line)
        for owner in info.steps:
            opt = resolve(frame, owner, local)
            if is_a(opt, torch.optim.Optimizer) and (always or self._due("step")):
                self._check_params(ctx, frame, opt, line)

    def _check_params(self, ctx: Session, frame: types.FrameType, opt: torch.optim.Optimizer,
                      line: int) -> None:
        params = [p for g in opt.param_groups for p in g.get("params", []) if is_a(p, torch.Tensor)]
        bad = _bad_among(params)
        if not bad:
            return
        names = Names(ctx, frame)
        for p in bad:
            self._check(ctx, names.name(p), p, line)

    def _check(self, ctx: Session, name: str, t: torch.Tensor, line: int | None) -> None:
        if name in self._flagged:
            return
        counts = _bad_values(t)
        if counts is None:
            return
        self._flagged.add(name)
        nan, inf = counts
        what = "NaN and Inf" if nan and inf else "NaN" if nan else "Inf"
        data = {
            "name": name,
            "what": what,
            "count": str(nan + inf),
            "numel": str(t.numel()),
            "nan": str(nan),
            "inf": str(inf),
        }
        self.flag(ctx, "warning", data, (name,), line=line)

    def _before(self, ctx: Session, call: BackwardCall) -> None:
        if call.kind != "grad":
            call.notes[self.code] = self._leaves_due(*call.autograd_args())

    def _after_call(self, ctx: Session, call: BackwardCall) -> None:
        leaves = call.notes.get(self.code)
        if leaves and call.error is None:
            self._check_grads(ctx, leaves)

    def _leaves_due(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
        """The leaves whose gradients to check after this backward() (none on most calls)."""
        with torch._C.DisableTorchFunction():
            roots = backward_roots(args, kwargs)[0]
            if self._due("backward") or any(_bad_values(r) is not None for r in roots):
                return leaves_written(args, kwargs)
        return []

    def _check_grads(self, ctx: Session, leaves: list[torch.Tensor]) -> None:
        grads = [leaf.grad for leaf in leaves]
        bad_grads = _bad_among([g for g in grads if g is not None])
        if not bad_grads:
            return
        ids = {id(g) for g in bad_grads}
        bad = [leaf for leaf, g in zip(leaves, grads, strict=True) if id(g) in ids]
        names = Names(ctx)
        for leaf in bad:
            g = leaf.grad
            if g is not None:
                self._check(ctx, f"{names.name(leaf)}.grad", g, None)
