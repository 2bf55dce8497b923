"""The one layer that observes PyTorch for the checks: events from PyTorch's own hook mechanisms, restorable.

Checks subscribe to events here (`backward` before/after, arithmetic operators, regression losses, an
optimizer's step); they never install anything themselves. The layer is entered once per run, in the
script's thread, and everything it set up is undone on every way the run ends. Nothing it uses can be
seen from the script: no attribute of torch, of an optimizer or of `nn.Module` is replaced.

- Ops, losses and `backward()` are seen through a `TorchFunctionMode` (thread-local), pushed only while a
  line of the user's code that can need it runs (its source calls `backward`/`grad`/a functional loss, or
  a check's gate asks for it): every other line runs at PyTorch's full speed.
- Loss modules (`nn.MSELoss`, ...) are seen through a global module forward pre-hook, optimizer steps
  through the global optimizer step pre-hook.
- A warning PyTorch raises inside an op seen by the mode is attributed to the user's line, as plain python
  does: the op is called from a tiny function whose code carries the calling line's file and number.
- What must still be replaced (simulated CUDA's answers) goes through `Replacements`, restored at exit.
"""

from __future__ import annotations

import ast
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch.nn.modules import module as _nn_module
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.overrides import TorchFunctionMode

from tensorscope.engine.monitor import Monitor

if TYPE_CHECKING:
    from tensorscope.engine.session import Session

BackwardBefore = Callable[["Session", "BackwardCall"], None]
BackwardAfter = Callable[["Session", "BackwardCall"], None]
OpHandler = Callable[["Session", str, torch.Tensor, torch.Tensor, Any, types.FrameType], None]
LossHandler = Callable[["Session", str, torch.Tensor, torch.Tensor, types.FrameType, bool], None]
StepHandler = Callable[["Session", torch.optim.Optimizer], None]
LineGate = Callable[["Session", types.FrameType, int], bool]

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
_BACKWARD_WORDS = frozenset({"backward", "grad"})


class BackwardCall:
    """One `backward()` / `torch.autograd.grad()` call as the script made it; checks may keep notes on it."""

    __slots__ = ("kind", "args", "kwargs", "notes", "error")

    def __init__(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.kind = kind
        self.args = args
        self.kwargs = kwargs
        self.notes: dict[str, Any] = {}
        self.error: BaseException | None = None
        """The exception the call raised (after-handlers still run), None when it returned."""

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


def _record(ctx: Session, who: str, exc: BaseException) -> None:
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


# --- warnings at the user's line ---------------------------------------------------------------------

_TEMPLATE = compile("def _op(f, a, k): return f(*a, **k)\n", "<tensorscope>", "exec").co_consts[0]
_disguises: dict[tuple[str, int, int], types.FunctionType] = {}
_disguise_codes: set[types.CodeType] = set()


def is_disguise(code: types.CodeType) -> bool:
    """Whether `code` is one of ours that only carries a user's line for warnings (never step into it)."""
    return code in _disguise_codes


def _caller_of_op() -> types.FrameType:
    """The frame that made the op now in `__torch_function__`: the one plain python would blame."""
    f = sys._getframe(2)
    if f.f_code is _HANDLE_CODE and f.f_back is not None and f.f_back.f_back is not None:
        f = f.f_back.f_back  # a Python-level torch function (F.mse_loss, Tensor.backward): its caller
    return f


def _call_as(frame: types.FrameType, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
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
        _disguise_codes.add(code)
    try:
        return fn(func, args, kwargs)
    except BaseException as exc:  # re-raised as is, minus the disguise's entry in its traceback
        _drop_disguise(exc.__traceback__)
        raise


def _drop_disguise(tb: types.TracebackType | None) -> None:
    """Unlink the disguise's frame from a traceback: tracebacks show the user's line, then PyTorch's."""
    prev = None
    while tb is not None:
        if tb.tb_frame.f_code in _disguise_codes:
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
        caller = _caller_of_op()
        kind = _BACKWARD_FUNCS.get(func)
        if kind is not None and layer.backward_handlers:
            return layer.backward(caller, func, kind, args, kwargs)
        loss = _LOSS_FUNCS.get(func)
        if loss is not None and layer.loss_handlers:
            layer.loss(loss, args, kwargs, caller, direct=True)
            return _call_as(caller, func, args, kwargs)
        symbol = _OPERATORS.get(func)
        if symbol is not None and layer.op_handlers and len(args) >= 2:
            out = _call_as(caller, func, args, kwargs)
            a, b = (args[1], args[0]) if func in _REFLECTED else (args[0], args[1])
            if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.ndim + b.ndim == 3:
                layer.op(symbol, a, b, out, caller)
            return out
        return _call_as(caller, func, args, kwargs)


class Instrument(Monitor):
    """The instrumentation of one run: handlers of the checks, and what was set up to feed them."""

    wants_lines = True

    def __init__(self, subscribers: Iterable[Subscriber]) -> None:
        self.backward_handlers: list[tuple[BackwardBefore | None, BackwardAfter | None]] = []
        self.op_handlers: list[OpHandler] = []
        self.loss_handlers: list[LossHandler] = []
        self.step_handlers: list[StepHandler] = []
        self.gates: list[LineGate] = []
        self._ctx: Session | None = None
        self._tid = 0
        self._mode = _Mode(self)
        self._on = False
        self._owner: types.FrameType | None = None
        self._busy = False
        self._lines: dict[tuple[types.CodeType, int], bool] = {}
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
        """Ask for the mode on lines where `gate(ctx, frame, line)` says ops must be seen."""
        self.gates.append(gate)

    # --- Monitor ------------------------------------------------------------------------------------

    def activate(self, ctx: Session) -> ExitStack:
        self._ctx = ctx
        self._tid = threading.get_ident()
        stack = ExitStack()
        stack.callback(self._pop)
        if self.step_handlers:
            stack.callback(register_optimizer_step_pre_hook(self._step).remove)
        if self.loss_handlers:
            stack.callback(_nn_module.register_module_forward_pre_hook(self._module_pre).remove)
        if not (self.backward_handlers or self.loss_handlers or self.op_handlers):
            self.wants_lines = False
        return stack

    def on_line(self, ctx: Session, frame: types.FrameType, line: int) -> None:
        if threading.get_ident() != self._tid:
            return
        need = self._static_need(frame, line) or any(g(ctx, frame, line) for g in self.gates)
        if self._on:
            if need:
                if frame is not self._owner and not self._below_owner(frame):
                    self._owner = frame
            elif frame is self._owner or not self._below_owner(frame):
                self._pop()
        elif need and self._can_push():
            torch._C._push_on_torch_function_stack(self._mode)
            self._on = True
            self._owner = frame

    def on_finish(self, ctx: Session) -> None:
        self._pop()

    # --- the mode's life ----------------------------------------------------------------------------

    def _static_need(self, frame: types.FrameType, line: int) -> bool:
        key = (frame.f_code, line)
        need = self._lines.get(key)
        if need is None:
            need = self._parse_need(frame, line)
            self._lines[key] = need
        return need

    def _parse_need(self, frame: types.FrameType, line: int) -> bool:
        ctx = self._ctx
        text = ctx.source_line(frame, line) if ctx is not None else ""
        try:
            tree = ast.parse(text.strip())
        except SyntaxError:
            tree = None
        words: set[str] = set()
        if tree is not None:
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    f = node.func
                    if isinstance(f, ast.Attribute):
                        words.add(f.attr)
                    elif isinstance(f, ast.Name):
                        words.add(f.id)
        else:  # part of a statement over several lines: judge by its words
            words = {w for w in _BACKWARD_WORDS | set(LOSS_NAMES) if w + "(" in text.replace(" ", "")}
        if self.backward_handlers and words & _BACKWARD_WORDS:
            return True
        return bool(self.loss_handlers) and bool(words & set(LOSS_NAMES))

    def _below_owner(self, frame: types.FrameType) -> bool:
        owner = self._owner
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
            return _call_as(caller, func, args, kwargs)
        call = BackwardCall("tensor" if func is torch.Tensor.backward else kind, args, kwargs)
        self._busy = True
        try:
            _untraced(self._dispatch_backward, ctx, call, 0)
            try:
                return _call_as(caller, func, args, kwargs)
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                _untraced(self._dispatch_backward, ctx, call, 1)
        finally:
            self._busy = False

    def _dispatch_backward(self, ctx: Session, call: BackwardCall, which: int) -> None:
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
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.ndim + b.ndim != 3:
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
        if name is None or ctx is None or threading.get_ident() != self._tid:
            return
        f: types.FrameType | None = sys._getframe(1)
        while f is not None and not ctx.is_user_code(f.f_code):
            f = f.f_back
        self.loss(name, args, {}, f, direct=False)

    def _step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        ctx = self._ctx
        if ctx is None or threading.get_ident() != self._tid:
            return
        for handler in self.step_handlers:
            try:
                _untraced(handler, ctx, optimizer)
            except Exception as exc:
                _record(ctx, _owner(handler), exc)


def with_instrument(monitors: Iterable[Monitor]) -> list[Monitor]:
    """The monitors, preceded by the instrumentation layer their subscribers need (when any does)."""
    monitors = list(monitors)
    subscribers = [m for m in monitors if isinstance(m, Subscriber)]
    if not subscribers:
        return monitors
    return [Instrument(subscribers), *monitors]


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

    def active(self) -> list[tuple[Any, str]]:
        """(owner, name) of everything replaced now."""
        with self._lock:
            return [(o, n) for o, n, _ in self._originals.values()]


REPLACEMENTS = Replacements()
"""The one registry of replaced attributes (process-wide: restored when the last run using one ends)."""
