"""backward() calls as the checks see them: the `BackwardCall` record, and the instrumentation's tracking of
a call from its start to its end (the before-handlers, then the after-handlers once it returned or raised).

A plain `name.backward()` line is announced at its start (its receiver read without running code) and ends
through a pre-hook on its root's grad_fn that queues PyTorch's end-of-backward callback; any other call is
seen by the instrumentation's TorchFunctionMode (`Instrument.backward`).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from tensorscope.engine.disguise import call_as
from tensorscope.engine.handlers import owner_of, record_error, untraced
from tensorscope.engine.static import static_value
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext


class BackwardCall:
    """One `backward()` / `torch.autograd.grad()` call as the script made it; checks may keep notes on it."""

    __slots__ = ("kind", "args", "kwargs", "notes", "error", "line")

    def __init__(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.kind = kind
        self.args = args
        self.kwargs = kwargs
        self.notes: dict[str, Any] = {}
        self.error: BaseException | None = None
        """The exception the call raised (after-handlers still run), None when it returned."""
        self.line = 0
        """The user's line that made the call."""

    def autograd_args(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The call as `torch.autograd.backward(*args, **kwargs)` arguments (`Tensor.backward` normalised)."""
        if self.kind == "tensor":  # Tensor.backward(self, gradient, retain_graph, create_graph, inputs)
            names = ("tensors", "grad_tensors", "retain_graph", "create_graph", "inputs")
            kw = dict(zip(names, self.args, strict=False))
            for k, v in self.kwargs.items():
                kw["grad_tensors" if k == "gradient" else k] = v
            tensors = kw.pop("tensors", None)
            return (tensors,), kw
        return self.args, self.kwargs


class NotFinished(RuntimeError):
    """The error an announced backward() is given when its end was never seen."""


def queue_end(done: Callable[[RunContext, BackwardCall], None], ctx: RunContext, call: BackwardCall) -> None:
    """Inside a backward() (a pre-hook of its root): `done(ctx, call)` once the backward pass ends."""
    torch.autograd.Variable._execution_engine.queue_callback(lambda: done(ctx, call))


class BackwardTracking:
    """The instrumentation's part that follows backward() calls (mixed into `instrument.Instrument`, whose
    `__init__` sets `backward_handlers`, `_pending` and `_busy`)."""

    def _backward_done(self, ctx: RunContext, call: BackwardCall) -> None:
        """The end of an announced backward() (PyTorch's end-of-backward callback)."""
        if self._pending is not None and self._pending[2] is call:
            self._pending = None
        call.notes.pop("_hook").remove()
        self._dispatch(ctx, call, 1)

    def _settle_pending(self, ctx: RunContext, exc: BaseException | None) -> None:
        """The line of an announced backward() is over: when the backward did not end (it raised, or
        the graph was empty) the after-handlers see it with `error` set."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        call = pending[2]
        hook = call.notes.pop("_hook", None)
        if hook is not None:
            hook.remove()
        call.error = exc if exc is not None else NotFinished("backward() did not finish")
        self._dispatch(ctx, call, 1)

    def _announce(self, ctx: RunContext, frame: types.FrameType, line: int, receiver: str) -> bool:
        """Run the before-handlers of `receiver.backward()` now (its after-handlers run once the line is
        done); True when the receiver cannot be read without running code (then the mode sees the call)."""
        if self._pending is not None or self._busy:
            return False
        try:
            root = static_value(receiver, frame.f_locals, frame.f_globals)
        except LookupError:
            return True
        if not is_a(root, torch.Tensor):
            return True
        call = BackwardCall("tensor", (root,), {})
        call.line = line
        self._pending = (frame, line, call)
        self._dispatch(ctx, call, 0)
        node = root.grad_fn
        if node is not None:  # the after-handlers run as backward() ends, inside the user's line
            handle = node.register_prehook(lambda grads: queue_end(self._backward_done, ctx, call))
            call.notes["_hook"] = handle
        return False

    def backward(self, caller: types.FrameType, func: Any, kind: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
        """Run one backward() between the subscribers' before and after handlers."""
        ctx = self._ctx
        if ctx is None or self._busy:
            return call_as(caller, func, args, kwargs)
        call = BackwardCall("tensor" if func is torch.Tensor.backward else kind, args, kwargs)
        call.line = ctx.location()[1]
        self._busy = True
        try:
            self._dispatch(ctx, call, 0)
            try:
                return call_as(caller, func, args, kwargs)
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                self._dispatch(ctx, call, 1)
        finally:
            self._busy = False

    def _dispatch(self, ctx: RunContext, call: BackwardCall, which: int) -> None:
        """The before (0) or after (1) handlers of a backward() call, outside any mode and tracing."""
        untraced(self._dispatch_backward, ctx, call, which)

    def _dispatch_backward(self, ctx: RunContext, call: BackwardCall, which: int) -> None:
        with torch._C.DisableTorchFunction():
            for pair in self.backward_handlers:
                handler = pair[which]
                if handler is None:
                    continue
                try:
                    handler(ctx, call)
                except Exception as exc:
                    record_error(ctx, owner_of(handler), exc)
