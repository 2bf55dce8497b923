"""`nan-inf`: a tensor in scope becomes NaN or Inf; flagged the first time for each tensor name.

Checked where values change: the names a line binds or changes in place (after the line ran), the
parameters of an optimizer after its `.step()` line, and the gradients a backward() wrote; and, after a
loop's passes that `check` did not observe, the names its lines bind (NaN and Inf persist). The common
all-finite case costs one reduction per tensor. Infinities put there on purpose (an attention mask filled with
`float('-inf')`, see `_deliberate_inf`) are not flagged; NaN always is (softmax of a fully masked row).
"""

from __future__ import annotations

import math
import types
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks.base import Check
from tensorscope.checks.support.autograd_watch import backward_roots, leaves_written
from tensorscope.checks.support.deliberate_inf import Intent, Judge, Ran, writes_inf
from tensorscope.checks.support.line_info import AfterLine, line_info
from tensorscope.checks.support.names import Names
from tensorscope.checks.support.resolve import lookup
from tensorscope.engine.instrument import BackwardCall, Instrument, Subscriber
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

_MAX_NUMEL = 10_000_000
_EVERY = 10
"""Gradients and optimizer parameters are checked at each of the first calls, then every this many
(NaN and Inf persist in them once there), and always when the loss itself is not finite."""
_FIRST = 20
_FIRST_LINES = 50
_EVERY_LINE = 4
"""A line's results are checked at each of its first runs, then every few runs: NaN from divergence
persists, so it is still caught at the line that produces it."""
_OUTER = 8
"""Pending lines kept while functions writing infinities, called from them, run (nested calls)."""


def _total(t: torch.Tensor) -> float | complex | None:
    """The sum of `t` when it is not finite (NaN or Inf somewhere, or a sum too large); None when it is
    finite or `t` is not a float tensor this check reads."""
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
    return total


def _counts(t: torch.Tensor, total: float | complex) -> tuple[int, int] | None:
    """(NaN count, Inf count) of `t`, whose sum `total` is not finite; None when it holds neither."""
    with torch._C.DisableTorchFunction():
        x = t.detach()
        # a real sum of +-inf has no NaN among its terms
        nan = 0 if isinstance(total, float) and math.isinf(total) else int(torch.isnan(x).sum())
        inf = int(torch.isinf(x).sum())
    if nan == 0 and inf == 0:
        return None
    return nan, inf


def _bad_values(t: torch.Tensor) -> tuple[int, int] | None:
    """(NaN count, Inf count) when `t` holds any; None when all finite (or not a float tensor)."""
    total = _total(t)
    return None if total is None else _counts(t, total)


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
        self._intent = Intent()
        self._outer: list[tuple[types.FrameType, int, Ran]] = []
        """Pending lines whose callees' own lines took over (innermost last)."""

    def _due(self, what: str) -> bool:
        n = self._calls.get(what, 0) + 1
        self._calls[what] = n
        return n <= _FIRST or n % _EVERY == 0

    def subscribe(self, events: Instrument) -> None:
        events.on_backward(self._before, self._after_call)

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        info = line_info(ctx, frame, line)
        if info.continuation:
            return
        key = (frame.f_code.co_filename, line)
        src = self._intent.sources.get(key) or self._intent.source(key, info)
        pending = self._after.pending
        if self._outer:
            self._back_in(frame, line, src.literal)
        if pending is not None:
            done = self._after.advance(frame, line)
            if done is not None:
                self._finished(ctx, *done)
                pending = None
            elif src.literal and frame is not pending[0]:
                pending[2].saw = True  # a function the pending line called writes an infinity
        if info.assigned or info.steps or src.marks:
            n = self._runs.get(key, 0) + 1
            self._runs[key] = n
            if n <= _FIRST_LINES or n % _EVERY_LINE == 0 or src.literal or key in self._intent.carry:
                if (pending is not None and frame is not pending[0] and len(self._outer) < _OUTER
                        and writes_inf(frame.f_code)):
                    self._outer.append(pending)  # kept to mark the infinities its callee returns
                self._after.pending = (frame, line, self._intent.ran(frame, key, info, src))

    def _back_in(self, frame: types.FrameType, line: int, literal: bool) -> None:
        """A line event while a call made by an earlier pending line may run: once its frame goes on to
        another line, what that line bound is marked if the call wrote infinities (it is not checked)."""
        outer = self._outer
        while outer:
            top, top_line, ran = outer[-1]
            if top is frame:
                if top_line != line:
                    outer.pop()
                    if ran.saw:
                        self._mark_returned(top, top_line, ran)
                break
            f = frame.f_back
            while f is not None and f is not top:
                f = f.f_back
            if f is not None:
                break  # still calling
            outer.pop()  # its frame has ended
        if literal:
            for _, _, ran in outer:
                ran.saw = True

    def _mark_returned(self, frame: types.FrameType, line: int, ran: Ran) -> None:
        """Marks the infinities a line bound from a call that wrote them (`mask = causal_mask(T)`)."""
        local = frame.f_locals
        judge = Judge(self._intent, frame, ran, local)
        for name in ran.info.assigned:
            value = lookup(frame, name, local)
            if is_a(value, torch.Tensor):
                total = _total(value)
                if isinstance(total, float) and math.isinf(total):
                    judge.deliberate(value)

    def on_gap(self, ctx: RunContext) -> None:
        self._outer.clear()

    def on_finish(self, ctx: RunContext) -> None:
        self._outer.clear()
        done, self._after.pending = self._after.pending, None
        if done is not None:
            self._finished(ctx, *done)

    def on_resume(self, ctx: RunContext, frame: types.FrameType, lines: frozenset[int]) -> None:
        """After unobserved passes of a loop: NaN and Inf persist, so the names its lines bind (and the
        parameters of the optimizers they step) are checked now, each at the first line binding it.
        What the loop's lines making deliberate infinities hold now is marked first: `logits = f(x)` then
        `logits[logits < v] = -inf` leaves the mask in `logits`, which the first line did not make."""
        rans = []
        for line in sorted(lines):
            info = line_info(ctx, frame, line)
            if not info.continuation:
                key = (frame.f_code.co_filename, line)
                rans.append((line, Ran(key, info, self._intent.source(key, info))))
        for line, ran in rans:
            if ran.src.literal or ran.key in self._intent.carry:
                self._mark_returned(frame, line, ran)
                if ran.src.marks:
                    self._intent.mark_fills(frame, ran, frame.f_locals)
        for line, ran in rans:
            self._finished(ctx, frame, line, ran, always=True)

    def _finished(self, ctx: RunContext, frame: types.FrameType, line: int, ran: Ran,
                  always: bool = False) -> None:
        """`line` of `frame` has run: check what it bound (and the parameters it stepped, when due)."""
        local = frame.f_locals
        info = ran.info
        judge = Judge(self._intent, frame, ran, local)
        for name in info.assigned:
            if name in self._flagged:
                continue
            value = lookup(frame, name, local)
            if is_a(value, torch.Tensor):
                self._check(ctx, name, value, line, judge)
        if ran.src.marks:
            self._intent.mark_fills(frame, ran, local)
        for owner in info.steps:
            opt = lookup(frame, owner, local)
            if is_a(opt, torch.optim.Optimizer) and (always or self._due("step")):
                self._check_params(ctx, frame, opt, line)

    def _check_params(self, ctx: RunContext, frame: types.FrameType, opt: torch.optim.Optimizer,
                      line: int) -> None:
        params = [p for g in opt.param_groups for p in g.get("params", []) if is_a(p, torch.Tensor)]
        bad = _bad_among(params)
        if not bad:
            return
        names = Names(ctx, frame)
        for p in bad:
            self._check(ctx, names.name(p), p, line)

    def _check(self, ctx: RunContext, name: str, t: torch.Tensor, line: int | None,
               judge: Judge | None = None) -> None:
        """Flag `name` when `t` holds NaN, or Inf the line did not put there on purpose (`judge`)."""
        if name in self._flagged:
            return
        total = _total(t)
        if total is None:
            return
        if judge is not None and isinstance(total, float) and math.isinf(total) and judge.deliberate(t):
            return  # +-inf and no NaN (the common mask): one reduction
        counts = _counts(t, total)
        if counts is None:
            return
        if judge is not None and counts[0] == 0 and judge.deliberate(t):
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
        mask = judge.masked_input() if judge is not None and nan else None
        if mask is not None:  # NaN made from deliberate infinities: a fully masked row, -inf - -inf
            data.update(variant="from-mask", mask=mask)
        self.flag(ctx, "warning", data, tensors=(name,), line=line)

    def _before(self, ctx: RunContext, call: BackwardCall) -> None:
        if call.kind != "grad":
            call.notes[self.code] = self._leaves_due(*call.autograd_args())

    def _after_call(self, ctx: RunContext, call: BackwardCall) -> None:
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

    def _check_grads(self, ctx: RunContext, leaves: list[torch.Tensor]) -> None:
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
