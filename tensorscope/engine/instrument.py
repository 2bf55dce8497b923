"""The one layer that observes PyTorch for the checks: events from PyTorch's own hook mechanisms, restorable.

Checks subscribe to events here (`backward` before/after, arithmetic operators, regression losses, an
optimizer's step); they never install anything themselves. The layer is entered once per run, in the
script's thread, and everything it set up is undone on every way the run ends. Nothing it uses can be
seen from the script: no attribute of torch, of an optimizer or of `nn.Module` is replaced.

- A line that is exactly `name.backward()` is seen from its source: the receiver is read (without running
  anything) at the line's start, before-handlers run then, after-handlers once the line is done.
- Other ops, losses and `backward()` calls are seen through a `TorchFunctionMode` (thread-local), pushed
  only while a line of the user's code that can need it runs (its source calls `backward`/`grad`/a
  functional loss, or a check's gate asks for it): every other line runs at PyTorch's full speed.
- Loss modules (`nn.MSELoss`, ...) that a user's line calls get a forward pre-hook (removed at the end);
  optimizer steps are seen through PyTorch's global optimizer step pre-hook.
- A warning PyTorch raises inside an op seen by the mode is attributed to the user's line, as plain python
  does: the op is called from a tiny function whose code carries the calling line's file and number.
- What must still be replaced (simulated CUDA's answers) goes through `Replacements`, restored at exit.

This module holds the layer and its TorchFunctionMode; its parts live in `backward` (backward() calls),
`hooks` (loss-module and optimizer-step hooks, the events they feed), `disguise` (warnings at the user's
line), `static` (values read without running code), `handlers` and `replacements`.
"""

from __future__ import annotations

import re
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import torch

from tensorscope.engine.backward import BackwardCall, BackwardTracking
from tensorscope.engine.disguise import OpMode, call_as, caller_of_op, is_disguise
from tensorscope.engine.hooks import HookedCalls
from tensorscope.engine.monitor import Monitor
from tensorscope.engine.replacements import REPLACEMENTS, Replacements
from tensorscope.engine.static import called_names, plain_backward, static_value
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

__all__ = [  # (the names the checks and the simulated CUDA import from here, wherever they are defined)
    "LOSS_NAMES", "REPLACEMENTS", "BackwardCall", "Instrument", "LineCheck", "LineGate", "Replacements",
    "Subscriber", "call_as", "caller_of_op", "is_disguise", "static_value", "with_instrument",
]

BackwardBefore = Callable[["RunContext", "BackwardCall"], None]
BackwardAfter = Callable[["RunContext", "BackwardCall"], None]
OpHandler = Callable[["RunContext", str, torch.Tensor, torch.Tensor, Any, types.FrameType], None]
LossHandler = Callable[["RunContext", str, torch.Tensor, torch.Tensor, types.FrameType, bool], None]
StepHandler = Callable[["RunContext", torch.optim.Optimizer], None]
LineCheck = Callable[[types.FrameType], bool]
LineGate = Callable[["RunContext", types.FrameType, int], "LineCheck | None"]
_LinePlan = tuple[bool, tuple[LineCheck, ...], "str | None", "list[str] | None"]

_BACKWARD_FUNCS: dict[Any, str] = {
    torch.Tensor.backward: "backward",
    torch.autograd.backward: "backward",
    torch.autograd.grad: "grad",
}
_OPERATORS: dict[Any, str] = {
    torch.Tensor.add: "+", torch.Tensor.sub: "-", torch.Tensor.mul: "*", torch.Tensor.div: "/",
    torch.Tensor.__add__: "+", torch.Tensor.__sub__: "-", torch.Tensor.__mul__: "*",
    torch.Tensor.__truediv__: "/", torch.Tensor.__radd__: "+", torch.Tensor.__rsub__: "-",
    torch.Tensor.__rmul__: "*", torch.Tensor.__rtruediv__: "/",
}
_REFLECTED = frozenset({torch.Tensor.__radd__, torch.Tensor.__rsub__, torch.Tensor.__rmul__,
                        torch.Tensor.__rtruediv__})
LOSS_NAMES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")
_LOSS_FUNCS: dict[Any, str] = {getattr(torch.nn.functional, n): n for n in LOSS_NAMES}
_BACKWARD_CALL = re.compile(r"\b(backward|grad)\s*\(")
_LOSS_CALL = re.compile(r"\b(" + "|".join(LOSS_NAMES) + r")\s*\(")


class Subscriber:
    """A check that takes events from the instrumentation layer (mix into a Check)."""

    def subscribe(self, events: Instrument) -> None:
        """Register handlers with `events` (called once, before the script starts)."""


# --- the layer ---------------------------------------------------------------------------------------

class _Mode(OpMode["Instrument"]):
    """Sees ops, losses and backward() while a line that needs it runs."""

    def on_op(self, caller: types.FrameType, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        layer = self.owner
        kind = _BACKWARD_FUNCS.get(func)
        if kind is not None and layer.backward_handlers:
            return layer.backward(caller, func, kind, args, kwargs)
        loss = _LOSS_FUNCS.get(func)
        if loss is not None and layer.loss_handlers:
            layer.loss(loss, args, kwargs, caller, direct=True)
            return call_as(caller, func, args, kwargs)
        symbol = _OPERATORS.get(func)
        if symbol is not None and layer.op_handlers and len(args) >= 2:
            out = call_as(caller, func, args, kwargs)
            a, b = (args[1], args[0]) if func in _REFLECTED else (args[0], args[1])
            if is_a(a, torch.Tensor) and is_a(b, torch.Tensor) and a.ndim + b.ndim == 3:
                layer.op(symbol, a, b, out, caller)
            return out
        return call_as(caller, func, args, kwargs)


class Instrument(BackwardTracking, HookedCalls, Monitor):
    """The instrumentation of one run: handlers of the checks, and what was set up to feed them."""

    wants_lines = True
    wants_inner_lines = True  # (operations inside a lambda or genexpr are the user's too)

    def __init__(self, subscribers: Iterable[Subscriber]) -> None:
        self.backward_handlers: list[tuple[BackwardBefore | None, BackwardAfter | None]] = []
        self.op_handlers: list[OpHandler] = []
        self.loss_handlers: list[LossHandler] = []
        self.step_handlers: list[StepHandler] = []
        self.gates: list[LineGate] = []
        self._ctx: RunContext | None = None
        self._tid = 0
        self._mode = _Mode(self)
        self._on = False
        self._owner: types.FrameType | None = None
        self._busy = False
        self._need = False
        self._plans: dict[tuple[str, int], _LinePlan] = {}
        self._hooked: dict[int, Any] = {}
        """id of a loss module -> the handle of our pre-hook on it."""
        self._step_hook: Any = None
        """The handle of our global optimizer step pre-hook (None while unobserved passes run)."""
        self._pending: tuple[types.FrameType, int, BackwardCall] | None = None
        """A plain `t.backward()` line announced at its start, awaiting its end."""
        for s in subscribers:
            s.subscribe(self)

    # --- subscribing ---------------------------------------------------------------------------------

    def on_backward(self, before: BackwardBefore | None = None, after: BackwardAfter | None = None) -> None:
        """Call `before(ctx, call)` ahead of each backward()/autograd.grad() of the user's lines, `after` once
        it returned or raised."""
        self.backward_handlers.append((before, after))

    def on_operator(self, handler: OpHandler) -> None:
        """`handler(ctx, symbol, a, b, out, caller)` after `a + b` (`- * /`) of a 1-D and a 2-D tensor
        (on gated lines)."""
        self.op_handlers.append(handler)

    def on_loss(self, handler: LossHandler) -> None:
        """`handler(ctx, name, input, target, caller, direct)` before a regression loss; `caller` is the frame
        that called it (`direct`: the functional form), or the user's innermost frame for a loss module."""
        self.loss_handlers.append(handler)

    def on_optimizer_step(self, handler: StepHandler) -> None:
        """`handler(ctx, optimizer)` before each optimizer step made in the script's thread."""
        self.step_handlers.append(handler)

    def gate(self, gate: LineGate) -> None:
        """`gate(ctx, frame, line)`, once per line of code: None, or a check run at each of the line's starts
        that says whether the mode must see this run of the line."""
        self.gates.append(gate)

    # --- Monitor ------------------------------------------------------------------------------------

    def activate(self, ctx: RunContext) -> ExitStack:
        self._ctx = ctx
        self._tid = threading.get_ident()
        stack = ExitStack()
        stack.callback(self._pop)
        self._hook_steps()
        stack.callback(self._unhook_steps)
        stack.callback(self._unhook_losses)
        if not (self.backward_handlers or self.loss_handlers or self.op_handlers):
            self.wants_lines = False  # (its _LineStart then only finds the mode off)
        return stack

    def line_start(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        """Before the checks see a line: finish a backward() the previous line made, leave the mode unless
        this line (or the call it is in) needs it, and announce this line's plain `t.backward()`."""
        if threading.get_ident() != self._tid:
            self._need = False
            return
        if self._step_hook is None:
            self._hook_steps()  # (after an unobserved pass)
        pending = self._pending
        if pending is not None and (frame is not pending[0] or line != pending[1]) \
                and not self._below(frame, pending[0]):
            self._settle_pending(ctx, None)
        key = (frame.f_code.co_filename, line)  # (not the code object: hashing one hashes its bytecode)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(ctx, frame, line)
        need, checkers, receiver, callees = plan
        if callees:
            self._hook_losses(frame, callees)
        if not need and checkers:
            for check in checkers:
                if check(frame):
                    need = True
                    break
        if self._on:
            if need:
                if frame is not self._owner and not self._below(frame, self._owner):
                    self._owner = frame
            elif frame is self._owner or not self._below(frame, self._owner):
                self._pop()
        if receiver is not None and not self._on and self._announce(ctx, frame, line, receiver):
            need = True
        self._need = need

    def plan_of(self, ctx: RunContext, frame: types.FrameType, line: int) -> _LinePlan:
        """What `line` of `frame`'s file needs (computed once per line)."""
        key = (frame.f_code.co_filename, line)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(ctx, frame, line)
        return plan

    def quiet_inner_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> bool:
        return True  # (on_line only acts on what line_start decided)

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        """After the checks saw a line: enter the mode for it when it needs it."""
        if self._need and not self._on and self._can_push():
            torch._C._push_on_torch_function_stack(self._mode)
            self._on = True
            self._owner = frame

    def on_gap(self, ctx: RunContext) -> None:
        """An unobserved pass starts: leave the mode and take our hooks away (its lines run at full speed;
        the next observed line puts back what it needs)."""
        self._pop()
        self._need = False
        self._unhook_steps()
        self._unhook_losses()

    def on_finish(self, ctx: RunContext) -> None:
        self._pop()
        self._settle_pending(ctx, None)
    # --- the mode's life ----------------------------------------------------------------------------

    def _plan(self, ctx: RunContext, frame: types.FrameType, line: int) -> _LinePlan:
        """What a line needs: the mode always, the mode when a gate's check says so, or (a plain
        `name.backward()`) only its receiver read at the line's start."""
        text = ctx.source_line(frame, line)
        code = text.split("#", 1)[0]
        checkers = tuple(c for c in (g(ctx, frame, line) for g in self.gates) if c is not None)
        receiver = None
        need = False
        if self.backward_handlers and _BACKWARD_CALL.search(code):
            receiver = plain_backward(code)
            need = receiver is None
        callees = None
        if self.loss_handlers:
            need = need or _LOSS_CALL.search(code) is not None
            callees = called_names(code)
        return need, checkers, receiver, callees

    @staticmethod
    def _below(frame: types.FrameType, owner: types.FrameType | None) -> bool:
        """Whether `frame` runs inside a call made by `owner`."""
        f = frame.f_back
        depth = 0
        while f is not None and depth < 256:
            if f is owner:
                return True
            f = f.f_back
            depth += 1
        return False

    def _can_push(self) -> bool:
        """Ours goes on top of tensorscope's own modes only: a mode of the user's keeps its stack."""
        n = torch._C._len_torch_function_stack()
        return all(type(torch._C._get_function_stack_at(i)).__module__.startswith("tensorscope.")
                   for i in range(n))

    @contextmanager
    def outside(self) -> Iterator[None]:
        """The checks' own work between lines (explaining a caught error) runs with the mode off; then it
        goes back on for the rest of the line that had it."""
        on, owner = self._on, self._owner
        self._pop()
        try:
            yield
        finally:
            if on and not self._on and self._can_push():
                torch._C._push_on_torch_function_stack(self._mode)
                self._on, self._owner = True, owner

    def _pop(self) -> None:
        if not self._on:
            return
        n = torch._C._len_torch_function_stack()
        if n and torch._C._get_function_stack_at(n - 1) is self._mode:
            torch._C._pop_torch_function_stack()
            self._on = False
            self._owner = None
        # else a mode pushed above ours (by the script) is still there: ours leaves with it

    # --- events -------------------------------------------------------------------------------------

def with_instrument(monitors: Iterable[Monitor]) -> list[Monitor]:
    """The monitors, followed by the instrumentation layer their subscribers need (when any does)."""
    monitors = list(monitors)
    subscribers = [m for m in monitors if isinstance(m, Subscriber)]
    if not subscribers:
        return monitors
    layer = Instrument(subscribers)
    return [_LineStart(layer), *monitors, layer]  # the checks' own work at a line runs outside the mode


class _LineStart(Monitor):
    """The layer's first look at each line, before the checks': the mode is left where it is not needed."""

    wants_lines = True
    wants_inner_lines = True

    def __init__(self, layer: Instrument) -> None:
        self.layer = layer

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        self.layer.line_start(ctx, frame, line)

    def quiet_inner_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> bool:
        """A lambda's line with no operator, loss or backward() to watch: the mode's decision stays."""
        need, checkers, receiver, callees = self.layer.plan_of(ctx, frame, line)
        return not (need or checkers or receiver is not None or callees)

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        self.layer._pop()  # the checks explain the script's error outside the mode
        self.layer._settle_pending(ctx, exc)
        return False
