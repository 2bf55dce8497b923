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
"""

from __future__ import annotations

import ast
import re
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.overrides import TorchFunctionMode

from tensorscope.engine.monitor import Monitor
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

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
_LOSS_MODULES: dict[type, str] = {
    torch.nn.MSELoss: "mse_loss", torch.nn.L1Loss: "l1_loss", torch.nn.SmoothL1Loss: "smooth_l1_loss",
    torch.nn.HuberLoss: "huber_loss",
}
_HANDLE_CODE = torch.overrides.handle_torch_function.__code__
_BACKWARD_CALL = re.compile(r"\b(backward|grad)\s*\(")
_LOSS_CALL = re.compile(r"\b(" + "|".join(LOSS_NAMES) + r")\s*\(")


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


class Subscriber:
    """A check that takes events from the instrumentation layer (mix into a Check)."""

    def subscribe(self, events: Instrument) -> None:
        """Register handlers with `events` (called once, before the script starts)."""


def _record(ctx: RunContext, who: str, exc: BaseException) -> None:
    """An exception inside a handler is a bug of ours: recorded with its owner's name, never swallowed."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    ctx.internal_errors.append(f"{who}: {type(exc).__name__}: {exc}\n{text}")


def _owner(handler: Callable[..., Any]) -> str:
    self = getattr(handler, "__self__", None)
    code = getattr(self, "code", None)
    return str(code) if isinstance(code, str) else getattr(handler, "__qualname__", repr(handler))


def _untraced(fn: Callable[..., Any], *args: Any) -> Any:
    """Run our bookkeeping with this thread's trace function off (3.11: no call events for our calls)."""
    tracer = sys.gettrace()
    if tracer is None:
        return fn(*args)
    sys.settrace(None)
    try:
        return fn(*args)
    finally:
        sys.settrace(tracer)


class _NotFinished(RuntimeError):
    """The error an announced backward() is given when its end was never seen."""


def _queue_end(done: Callable[[RunContext, BackwardCall], None], ctx: RunContext, call: BackwardCall) -> None:
    """Inside a backward() (a pre-hook of its root): `done(ctx, call)` once the backward pass ends."""
    torch.autograd.Variable._execution_engine.queue_callback(lambda: done(ctx, call))


def _plain_backward(code: str) -> str | None:
    """`loss` for a statement that is exactly `loss.backward()` (a dotted name, no arguments), else None."""
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "backward" and not call.args and not call.keywords):
        return None
    parts: list[str] = []
    node: ast.expr = call.func.value
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _callees(code: str) -> list[str]:
    """The dotted names a line calls (`criterion`, `self.loss_fn`)."""
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts: list[str] = []
            f: ast.expr = node.func
            while isinstance(f, ast.Attribute):
                parts.append(f.attr)
                f = f.value
            if isinstance(f, ast.Name):
                parts.append(f.id)
                names.append(".".join(reversed(parts)))
    return names


def static_value(name: str, local: Any, global_: dict[str, Any]) -> Any:
    """The value of a dotted name read without running any code (instance dicts, module tables);
    LookupError when that is not possible (a property, `__getattr__`, a missing name)."""
    first, *rest = name.split(".")
    if first in local:
        value = local[first]
    elif first in global_:
        value = global_[first]
    else:
        raise LookupError(first)
    for attr in rest:
        if is_a(value, torch.nn.Module):
            d = object.__getattribute__(value, "__dict__")
            for table in ("_parameters", "_buffers", "_modules"):
                entries = d.get(table)
                if entries is not None and attr in entries:
                    value = entries[attr]
                    break
            else:
                if attr not in d:
                    raise LookupError(attr)
                value = d[attr]
        elif isinstance(value, types.ModuleType):
            value = object.__getattribute__(value, "__dict__")[attr]
        else:
            if is_a(value, torch.Tensor) or hasattr(type(value), "__getattr__"):
                raise LookupError(attr)
            try:
                d = object.__getattribute__(value, "__dict__")
            except AttributeError:
                raise LookupError(attr) from None
            descriptor = next((k.__dict__[attr] for k in type(value).__mro__ if attr in k.__dict__), None)
            if attr not in d or (descriptor is not None and hasattr(type(descriptor), "__set__")):
                raise LookupError(attr)
            value = d[attr]
    return value


# --- warnings at the user's line ---------------------------------------------------------------------

_TEMPLATE = compile("def _op(f, a, k): return f(*a, **k)\n", "<tensorscope>", "exec").co_consts[0]
_disguises: dict[tuple[str, int, int], types.FunctionType] = {}
_disguise_codes: dict[int, types.CodeType] = {}
"""By id: hashing a code object hashes its bytecode (slow for a long script's module)."""


def is_disguise(code: types.CodeType) -> bool:
    """Whether `code` is one of ours that only carries a user's line for warnings (never step into it)."""
    return id(code) in _disguise_codes


def caller_of_op() -> types.FrameType:
    """The frame that made the op now in `__torch_function__` (call this first thing there): the one
    plain python would blame for a warning."""
    f = sys._getframe(2)
    if f.f_code is _HANDLE_CODE and f.f_back is not None and f.f_back.f_back is not None:
        f = f.f_back.f_back  # a Python-level torch function (F.mse_loss, Tensor.backward): its caller
    return f


def call_as(frame: types.FrameType, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`func(*args, **kwargs)` from a frame with `frame`'s file, line and globals: warnings land there."""
    key = (frame.f_code.co_filename, frame.f_lineno or 1, id(frame.f_globals))
    fn = _disguises.get(key)
    if fn is None:
        code = _TEMPLATE.replace(co_filename=key[0], co_firstlineno=key[1], co_name="<lambda>",
                                 co_qualname="<lambda>")
        fn = types.FunctionType(code, frame.f_globals, "<lambda>")
        if len(_disguises) > 4096:
            _disguises.clear()
            _disguise_codes.clear()
        _disguises[key] = fn
        _disguise_codes[id(code)] = code
    try:
        return fn(func, args, kwargs)
    except BaseException as exc:  # re-raised as is, minus the disguise's entry in its traceback
        _drop_disguise(exc.__traceback__)
        raise


def _drop_disguise(tb: types.TracebackType | None) -> None:
    """Unlink the disguise's frame from a traceback: tracebacks show the user's line, then PyTorch's."""
    prev = None
    while tb is not None:
        if id(tb.tb_frame.f_code) in _disguise_codes:
            if prev is not None:
                prev.tb_next = tb.tb_next
            return
        prev, tb = tb, tb.tb_next


# --- the layer ---------------------------------------------------------------------------------------

class _Mode(TorchFunctionMode):
    """Sees ops, losses and backward() while a line that needs it runs."""

    def __init__(self, layer: Instrument) -> None:
        super().__init__()
        self.layer = layer

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        layer = self.layer
        caller = caller_of_op()
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


class Instrument(Monitor):
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

    def _hook_steps(self) -> None:
        if self.step_handlers and self._step_hook is None:
            self._step_hook = register_optimizer_step_pre_hook(self._step)

    def _unhook_steps(self) -> None:
        hook, self._step_hook = self._step_hook, None
        if hook is not None:
            hook.remove()

    def on_finish(self, ctx: RunContext) -> None:
        self._pop()
        self._settle_pending(ctx, None)

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
        call.error = exc if exc is not None else _NotFinished("backward() did not finish")
        self._dispatch(ctx, call, 1)

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
            receiver = _plain_backward(code)
            need = receiver is None
        callees = None
        if self.loss_handlers:
            need = need or _LOSS_CALL.search(code) is not None
            callees = _callees(code)
        return need, checkers, receiver, callees

    def _hook_losses(self, frame: types.FrameType, callees: list[str]) -> None:
        """Loss modules this line calls get a forward pre-hook of ours (the first run of a line decides
        which of its callees to keep looking at: those that were loss modules)."""
        keep = []
        for name in callees:
            try:
                value = static_value(name, frame.f_locals, frame.f_globals)
            except LookupError:
                continue
            if type(value) in _LOSS_MODULES:
                keep.append(name)
                if id(value) not in self._hooked:
                    self._hooked[id(value)] = value.register_forward_pre_hook(self._module_pre)
        callees[:] = keep

    def _unhook_losses(self) -> None:
        for handle in self._hooked.values():
            handle.remove()
        self._hooked.clear()

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
            handle = node.register_prehook(lambda grads: _queue_end(self._backward_done, ctx, call))
            call.notes["_hook"] = handle
        return False

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
        _untraced(self._dispatch_backward, ctx, call, which)

    def _dispatch_backward(self, ctx: RunContext, call: BackwardCall, which: int) -> None:
        with torch._C.DisableTorchFunction():
            for pair in self.backward_handlers:
                handler = pair[which]
                if handler is None:
                    continue
                try:
                    handler(ctx, call)
                except Exception as exc:
                    _record(ctx, _owner(handler), exc)

    def op(self, symbol: str, a: torch.Tensor, b: torch.Tensor, out: Any, caller: types.FrameType) -> None:
        """Tell the operator subscribers about `a symbol b`."""
        ctx = self._ctx
        if ctx is None:
            return
        for handler in self.op_handlers:
            try:
                _untraced(handler, ctx, symbol, a, b, out, caller)
            except Exception as exc:
                _record(ctx, _owner(handler), exc)

    def loss(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], caller: types.FrameType | None,
             direct: bool) -> None:
        """Tell the loss subscribers about a regression loss about to run."""
        ctx = self._ctx
        if ctx is None:
            return
        a = args[0] if args else kwargs.get("input")
        b = args[1] if len(args) > 1 else kwargs.get("target")
        if not (is_a(a, torch.Tensor) and is_a(b, torch.Tensor)) or a.ndim + b.ndim != 3:
            return
        if caller is None:
            return
        for handler in self.loss_handlers:
            try:
                _untraced(handler, ctx, name, a, b, caller, direct)
            except Exception as exc:
                _record(ctx, _owner(handler), exc)

    def _module_pre(self, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        name = _LOSS_MODULES.get(type(module))
        ctx = self._ctx
        if name is None or ctx is None or threading.get_ident() != self._tid or ctx.unobserved:
            return
        f: types.FrameType | None = sys._getframe(1)
        while f is not None and not ctx.is_user_code(f.f_code):
            f = f.f_back
        self.loss(name, args, {}, f, direct=False)

    def _step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        ctx = self._ctx
        if ctx is None or threading.get_ident() != self._tid or ctx.unobserved:
            return
        for handler in self.step_handlers:
            try:
                _untraced(handler, ctx, optimizer)
            except Exception as exc:
                _record(ctx, _owner(handler), exc)


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


# --- what must still be replaced ----------------------------------------------------------------------

class Replacements:
    """Attributes replaced while a run needs them (simulated CUDA's answers), refcounted, always restored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[tuple[int, str], int] = {}
        self._originals: dict[tuple[int, str], tuple[Any, str, Any]] = {}

    @contextmanager
    def replaced(self, owner: Any, name: str, make: Callable[[Any], Any]) -> Iterator[None]:
        """`owner.name = make(original)` while the block runs (shared by nested and concurrent runs)."""
        key = (id(owner), name)
        with self._lock:
            if self._users.get(key, 0) == 0:
                original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
                self._originals[key] = (owner, name, original)
                setattr(owner, name, make(original))
            self._users[key] = self._users.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._users[key] -= 1
                if self._users[key] == 0:
                    del self._users[key]
                    own, attr, original = self._originals.pop(key)
                    setattr(own, attr, original)

    def original(self, owner: Any, name: str) -> Any:
        """What `owner.name` is when nothing of ours replaces it."""
        with self._lock:
            found = self._originals.get((id(owner), name))
        return found[2] if found is not None else getattr(owner, name)

    def active(self) -> list[tuple[Any, str]]:
        """(owner, name) of everything replaced now."""
        with self._lock:
            return [(o, n) for o, n, _ in self._originals.values()]


REPLACEMENTS = Replacements()
"""The one registry of replaced attributes (process-wide: restored when the last run using one ends)."""
