"""Library calls that cannot reach the user's code run with the tracer off: tracing costs only in user code.

On Python 3.11 `sys.settrace` slows every Python function the script's thread runs, library code
included, even when the tracer ignores it. Most of a training step is spent in a few library entry
points: a module's forward, an optimizer's `step` and `zero_grad`, and `import` (the first optimizer
imports `torch._dynamo`). While one of those runs and nothing it can call comes from the user's files,
the thread's tracer is switched off and restored when the call returns or raises. Calls that may reach
user code stay traced, exactly as before: a model holding a class, hook or callable from the user's
files, arguments of user-defined types or callables, a torch function or dispatch mode of the user's,
an optimizer subclass, hook or closure of the user's, and imports of --trace-modules.

The one thing not noticed: a callable of the user's assigned as a plain attribute of a library module
after that module's first call (`model.act = my_fn` mid-run). Submodules are noticed (PyTorch's module
registration hook), and so is a changed number of children.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.nn.modules import module as _nn_module
from torch.optim import optimizer as _optim_module

_PLAIN: frozenset[type] = frozenset({
    torch.Tensor, torch.nn.Parameter, int, float, bool, complex, str, bytes, type(None), slice,
    type(Ellipsis), torch.dtype, torch.device, torch.Size, torch.memory_format, torch.layout,
})
_NATIVE = (types.BuiltinFunctionType, types.BuiltinMethodType, types.MethodWrapperType,
           types.WrapperDescriptorType, types.MethodDescriptorType, types.ClassMethodDescriptorType)
_MAX_ITEMS = 64
"""Containers passed to a library call are looked into up to this size; larger ones keep tracing on."""
_MAX_TREES = 1024


class LibraryCalls:
    """One session's view of which library calls may run untraced (the user's files decide)."""

    def __init__(self, user_files: set[str], trace_modules: tuple[str, ...] = ()) -> None:
        self._files = user_files
        self._trace_tops = frozenset(name.partition(".")[0] for name in trace_modules)
        self._classes: dict[type, bool] = {}
        self._trees: dict[int, tuple[weakref.ref[torch.nn.Module], int, list[Any] | None]] = {}

    # --- what belongs to the user -------------------------------------------------------------------

    def user_class(self, cls: type) -> bool:
        """Whether a class (or a base of it) has a method, property or hook defined in the user's files."""
        known = self._classes.get(cls)
        if known is None:
            known = False
            for klass in getattr(cls, "__mro__", (cls,)):
                if klass is object:
                    continue
                try:
                    values = list(vars(klass).values())
                except TypeError:
                    continue
                if any(self._defines_user_code(v) for v in values):
                    known = True
                    break
            self._classes[cls] = known
        return known

    def _defines_user_code(self, value: Any) -> bool:
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        elif isinstance(value, property):
            return any(self._code_is_user(f) for f in (value.fget, value.fset, value.fdel))
        return self._code_is_user(value)

    def _code_is_user(self, fn: Any) -> bool:
        code = getattr(fn, "__code__", None) if isinstance(fn, types.FunctionType) else None
        if code is None:
            return False
        if code.co_filename in self._files:
            return True
        wrapped = getattr(fn, "__wrapped__", None)
        return wrapped is not None and wrapped is not fn and self._code_is_user(wrapped)

    def user_callable(self, obj: Any, depth: int = 0) -> bool:
        """Whether calling `obj` may run the user's code (functions, methods, partials, wrappers, objects)."""
        if depth > 4:
            return True
        if isinstance(obj, types.MethodType):
            return self.user_callable(obj.__func__, depth + 1) or (
                not isinstance(obj.__self__, type) and self.user_class(type(obj.__self__)))
        if isinstance(obj, functools.partial):
            return self.user_callable(obj.func, depth + 1) or any(
                self.user_value(a, depth + 1) for a in (*obj.args, *obj.keywords.values()))
        if isinstance(obj, staticmethod | classmethod):
            return self.user_callable(obj.__func__, depth + 1)
        if isinstance(obj, types.FunctionType):
            if obj.__code__.co_filename in self._files:
                return True
            wrapped = getattr(obj, "__wrapped__", None)
            if wrapped is not None and wrapped is not obj and self.user_callable(wrapped, depth + 1):
                return True
            for cell in obj.__closure__ or ():
                try:
                    inner = cell.cell_contents
                except ValueError:
                    continue
                if callable(inner) and not isinstance(inner, type) and self.user_callable(inner, depth + 1):
                    return True
            return False
        if isinstance(obj, _NATIVE):
            return False
        if isinstance(obj, type):
            return self.user_class(obj)
        return self.user_class(type(obj))

    def user_value(self, value: Any, depth: int = 0) -> bool:
        """Whether a value handed to a library call may lead it into the user's code."""
        kind = type(value)
        if kind in _PLAIN:
            return False
        if depth > 3:
            return True
        if kind is list or kind is tuple:
            return len(value) > _MAX_ITEMS or any(self.user_value(v, depth + 1) for v in value)
        if kind is dict:
            return len(value) > _MAX_ITEMS or any(self.user_value(v, depth + 1) for v in value.values())
        if isinstance(value, torch.nn.Module):
            return self._tree(value) is None
        if isinstance(value, torch.Tensor):
            return self.user_class(kind)
        if callable(value):
            return self.user_callable(value, depth + 1)
        return self.user_class(kind)

    def _hooks_user(self, *hook_dicts: dict[Any, Any]) -> bool:
        return any(self.user_callable(h) for hooks in hook_dicts if hooks for h in list(hooks.values()))

    def _modes_user(self) -> bool:
        """Whether a torch function or dispatch mode of the user's is active."""
        modes: list[Any] = []
        if torch._C._len_torch_function_stack():
            from torch.overrides import _get_current_function_mode_stack

            modes += _get_current_function_mode_stack()
        if torch._C._len_torch_dispatch_stack():
            from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

            modes += _get_current_dispatch_mode_stack()
        return any(self.user_class(type(m)) for m in modes)

    # --- modules ------------------------------------------------------------------------------------

    def _tree(self, mod: torch.nn.Module) -> list[Any] | None:
        """[(module, number of children)] of `mod` and its submodules; None when one may run user code."""
        entry = self._trees.get(id(mod))
        if entry is not None and entry[0]() is mod and entry[1] == _generation:
            return entry[2]
        tree: list[Any] | None = []
        try:
            for m in mod.modules():
                if m._compiled_call_impl is not None or self.user_class(type(m)) or any(
                        self.user_value(v) for k, v in vars(m).items()
                        if k not in _MODULE_STATE and type(v) not in _PLAIN):
                    tree = None
                    break
                tree.append((m, len(m._modules)))
        except Exception:
            tree = None
        if len(self._trees) >= _MAX_TREES:
            self._trees.clear()
        try:
            self._trees[id(mod)] = (weakref.ref(mod), _generation, tree)
        except TypeError:
            return None
        return tree

    def module_safe(self, mod: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether `mod(*args, **kwargs)` cannot reach the user's code."""
        tree = self._tree(mod)
        if tree is None:
            return False
        for m, children in tree:
            if len(m._modules) != children:
                self._trees.pop(id(mod), None)
                return self.module_safe(mod, args, kwargs)
            if (m._forward_hooks or m._forward_pre_hooks) and self._hooks_user(
                    m._forward_hooks, m._forward_pre_hooks):
                return False
        if (_nn_module._global_forward_hooks or _nn_module._global_forward_pre_hooks) and self._hooks_user(
                _nn_module._global_forward_hooks, _nn_module._global_forward_pre_hooks):
            return False
        for a in args:
            if type(a) not in _PLAIN and self.user_value(a):
                return False
        for a in kwargs.values():
            if type(a) not in _PLAIN and self.user_value(a):
                return False
        return not self._modes_user()

    # --- optimizers and imports ---------------------------------------------------------------------

    def optimizer_safe(self, opt: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether `opt.step(...)` / `opt.zero_grad(...)` cannot reach the user's code."""
        if self.user_class(type(opt)):
            return False
        if any(self.user_value(a) for a in args) or any(self.user_value(a) for a in kwargs.values()):
            return False  # a closure
        if self._hooks_user(
                getattr(opt, "_optimizer_step_pre_hooks", {}), getattr(opt, "_optimizer_step_post_hooks", {}),
                _optim_module._global_optimizer_pre_hooks, _optim_module._global_optimizer_post_hooks):
            return False
        return not self._modes_user()

    def import_traced(self, name: str, level: int) -> bool:
        """Whether an import may run a --trace-modules module (then it stays traced)."""
        if not self._trace_tops:
            return False
        return bool(level) or name.partition(".")[0] in self._trace_tops


_MODULE_STATE = frozenset({
    "_parameters", "_buffers", "_modules", "_non_persistent_buffers_set", "_backward_pre_hooks",
    "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_state_dict_hooks", "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks", "training", "_is_full_backward_hook",
})
"""nn.Module's own bookkeeping: hooks there are looked at on each call, the rest never runs user code."""

# --- the patches (installed while at least one session runs) ---------------------------------------

_lock = threading.Lock()
_active: dict[int, LibraryCalls] = {}
_generation = 0
_undo: list[Callable[[], None]] = []


def _on_module_registered(*_args: Any) -> None:
    """A submodule was assigned somewhere: cached module trees may be stale."""
    global _generation
    _generation += 1


def _untraced_call(lib: LibraryCalls | None, safe: Callable[[], bool], call: Callable[[], Any]) -> Any:
    """`call()`, with this thread's tracer off when `safe()` (itself run untraced) says it may be."""
    tracer = sys.gettrace() if lib is not None else None
    if tracer is None:
        return call()
    sys.settrace(None)
    try:
        ok = safe()
    except Exception:
        ok = False
    if not ok:
        sys.settrace(tracer)
        return call()
    try:
        return call()
    finally:
        sys.settrace(tracer)


def _patch(owner: Any, name: str, make: Callable[[Any], Any], restore: Any = None) -> None:
    own = owner.__dict__[name]
    ours = make(own)
    setattr(owner, name, ours)
    back = own if restore is None else restore(own)

    def undo() -> None:
        if owner.__dict__.get(name) is ours:  # someone patched it after us: theirs stays
            setattr(owner, name, back)

    _undo.append(undo)


def _module_call(original: Any) -> Any:
    get = _active.get
    ident = threading.get_ident
    gettrace = sys.gettrace
    settrace = sys.settrace

    def __call__(self: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        lib = get(ident())
        tracer = gettrace() if lib is not None else None
        if tracer is None:
            return original(self, *args, **kwargs)
        settrace(None)
        try:
            ok = lib.module_safe(self, args, kwargs)  # type: ignore[union-attr]
        except Exception:
            ok = False
        if not ok:
            settrace(tracer)
            return original(self, *args, **kwargs)
        try:
            return original(self, *args, **kwargs)
        finally:
            settrace(tracer)

    return __call__


def _optimizer_method(original: Any) -> Any:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        lib = _active.get(threading.get_ident())
        return _untraced_call(lib, lambda: lib.optimizer_safe(self, args, kwargs),  # type: ignore[union-attr]
                              lambda: original(self, *args, **kwargs))

    return method


def _importer(original: Any) -> Any:
    get = _active.get
    ident = threading.get_ident
    gettrace = sys.gettrace

    def __import__(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
                   level: int = 0) -> Any:
        lib = get(ident())
        if lib is None or gettrace() is None:  # another thread (the UI's), or already untraced
            return original(name, globals, locals, fromlist, level)
        return _untraced_call(lib, lambda: not lib.import_traced(name, level),
                              lambda: original(name, globals, locals, fromlist, level))

    return __import__


def _import_module(original: Any) -> Any:
    @functools.wraps(original)
    def import_module(name: str, package: str | None = None) -> Any:
        lib = _active.get(threading.get_ident())
        level = int(name.startswith("."))
        return _untraced_call(lib, lambda: not lib.import_traced(name, level),  # type: ignore[union-attr]
                              lambda: original(name, package))

    return import_module


def _optimizer_classes() -> Iterator[type]:
    todo = [torch.optim.Optimizer]
    seen: set[type] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        todo.extend(cls.__subclasses__())


def _install() -> None:
    _patch(builtins, "__import__", _importer)
    _patch(importlib, "import_module", _import_module)
    _patch(torch.nn.Module, "__call__", _module_call)
    handle = _nn_module.register_module_module_registration_hook(_on_module_registered)
    _undo.append(handle.remove)
    for cls in _optimizer_classes():
        if cls.__module__.partition(".")[0] != "torch":
            continue  # only PyTorch's own optimizers: another library's may call back into the user's code
        if "zero_grad" in cls.__dict__:
            _patch(cls, "zero_grad", _optimizer_method)
        if "step" in cls.__dict__ and cls is not torch.optim.Optimizer:
            _patch(cls, "step", _hooked_step, restore=_with_hooks)


def _with_hooks(step: Any) -> Any:
    """An optimizer's step wrapped as PyTorch wraps it at the first construction (runs the step hooks)."""
    if getattr(step, "hooked", False):
        return step
    hooked = torch.optim.Optimizer.profile_hook_step(step)
    hooked.hooked = True  # type: ignore[attr-defined]
    return hooked


def _hooked_step(own: Any) -> Any:
    """The optimizer's step, with PyTorch's hook-running wrapper inside ours (PyTorch would add it later)."""
    step = _optimizer_method(_with_hooks(own))
    step.hooked = True  # type: ignore[attr-defined]
    return step


def _uninstall() -> None:
    while _undo:
        _undo.pop()()


@contextmanager
def untraced_library_calls(lib: LibraryCalls) -> Iterator[None]:
    """While the block runs in this thread, safe library calls made from it run with tracing off."""
    tid = threading.get_ident()
    with _lock:
        if not _active:
            try:
                _install()
            except Exception:
                _uninstall()
                raise
        _active[tid] = lib
    try:
        yield
    finally:
        with _lock:
            _active.pop(tid, None)
            if not _active:
                _uninstall()
