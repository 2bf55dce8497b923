"""Which scalar the script calls `backward()` on: the loss a Step reports (`Step.loss`, `Step.loss_name`).

A subscriber of the instrumentation layer, like the checks: before a `backward()` of the user's lines it
reads the root's value when the root is one floating-point element, and keeps it once the call returned.
The Step of the next line (the pause right after the line that called it, as `record` and a replay
see it) reports it, with the name in scope that holds that very tensor (None for a
temporary such as `(a + b).backward()`). No reference is kept (not even a weak one: the script could count
those), only the tensor's id, matched at the pause together with its value; nothing of the script's is called
(its tensor's `__torch_function__` is off while we read it).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from tensorscope.engine.instrument import BackwardCall, Instrument, Subscriber
from tensorscope.engine.monitor import Monitor
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext


def backward_root(call: BackwardCall) -> torch.Tensor | None:
    """The one tensor a `backward()` call starts from (`loss.backward()`, `torch.autograd.backward(loss)`,
    `torch.autograd.backward([loss])`); None for `autograd.grad` and for several roots."""
    if call.kind == "grad":
        return None
    args, kwargs = call.autograd_args()
    roots = args[0] if args else kwargs.get("tensors")
    if type(roots) in (list, tuple) and len(roots) == 1:
        roots = roots[0]
    return roots if is_a(roots, torch.Tensor) else None


def scalar_value(t: torch.Tensor) -> float | None:
    """The value of a one-element floating-point tensor (None for others, and on the meta device)."""
    if t.numel() != 1 or not t.is_floating_point() or t.is_sparse or t.device.type == "meta":
        return None
    with torch.no_grad():
        return float(t.detach().reshape(()).double())


class LossWatch(Monitor, Subscriber):
    """The scalar the line just run called `backward()` on (its value, and its tensor's id)."""

    wants_lines = True

    def __init__(self) -> None:
        self._candidate: tuple[BackwardCall, float, int] | None = None
        self._seen: tuple[float, int] | None = None
        """(value, id of the root tensor) of the last backward() that returned, for the next line's Step."""
        self._fresh = False
        """True until the next line starts (the Step made there reports `_seen`; the one after does not)."""

    def subscribe(self, events: Instrument) -> None:
        events.on_backward(self._before, self._after)

    def _before(self, ctx: RunContext, call: BackwardCall) -> None:
        root = backward_root(call)
        value = scalar_value(root) if root is not None else None
        if root is None or value is None:
            self._candidate = None
            return
        self._candidate = (call, value, id(root))

    def _after(self, ctx: RunContext, call: BackwardCall) -> None:
        candidate, self._candidate = self._candidate, None
        if candidate is not None and candidate[0] is call and call.error is None:
            self._seen = candidate[1], candidate[2]
            self._fresh = True

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        """A line starts: what backward() saw belongs to this line's Step only (no pause here: it goes)."""
        if self._seen is not None:
            if self._fresh:
                self._fresh = False
            else:
                self._seen = None

    def take(self, scope: Mapping[str, Any]) -> tuple[float | None, str | None]:
        """(value, name in `scope`) of the scalar last backpropagated since the last call; then forgets it."""
        seen, self._seen = self._seen, None
        if seen is None:
            return None, None
        value, ident = seen
        with torch._C.DisableTorchFunction():
            name = next((k for k, v in scope.items() if id(v) == ident and not k.startswith("__")
                         and is_a(v, torch.Tensor) and _same(scalar_value(v), value)), None)
        return value, name


def _same(a: float | None, b: float) -> bool:
    """Equal values (NaN equal to NaN): the tensor in scope still holds what backward() started from."""
    return a is not None and (a == b or (a != a and b != b))
