"""Library calls that cannot reach the user's code run with the tracer off: tracing costs only in user code.

On Python 3.11 `sys.settrace` slows every Python function the script's thread runs, library code
included, even when the tracer ignores it. Most of a training step is spent in a module's forward and an
optimizer's `step`. PyTorch's global hooks (a module forward pre-hook and an always-called forward hook,
the optimizer step pre- and post-hooks) switch the thread's tracer off while one of those runs and
nothing it can call comes from the user's files, and back on when it returns (a module's forward also
when it raises). Nothing of torch is replaced, so the script cannot see any of it. Calls that may reach
user code stay traced: a model holding a class, hook or callable from the user's files, arguments of
user-defined types or callables, a torch function or dispatch mode of the user's, an optimizer subclass,
hook or closure of the user's. (A module's forward hook is always called, even when it raises; an
optimizer's post-hook is not, so during `step` the trace function is `getattr`, which leaves new frames
untraced from C while the caller's frame still sees the exception, and tracing is restored there.)
`zero_grad` and `import` (no hook to use) stay traced. Not noticed: a callable of the user's passed to a
library module as a keyword argument (the pre-hook sees positional arguments only).

The one thing not noticed: a callable of the user's assigned as a plain attribute of a library module
after that module's first call (`model.act = my_fn` mid-run). Submodules are noticed (PyTorch's module
registration hook), and so is a changed number of children.
"""

from __future__ import annotations

import functools
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

from tensorscope.engine.values import is_a

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
        if is_a(value, torch.nn.Module):
            return self._tree(value) is None
        if is_a(value, torch.Tensor):
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

    # --- optimizers ---------------------------------------------------------------------

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


_MODULE_STATE = frozenset({
    "_parameters", "_buffers", "_modules", "_non_persistent_buffers_set", "_backward_pre_hooks",
    "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_state_dict_hooks", "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks", "training", "_is_full_backward_hook",
})
"""nn.Module's own bookkeeping: hooks there are looked at on each call, the rest never runs user code."""

# --- the hooks (registered while at least one session runs) -----------------------------------------

_lock = threading.Lock()
_active: dict[int, LibraryCalls] = {}
_generation = 0
_undo: list[Callable[[], None]] = []
_off: dict[int, list[tuple[Any, Any]]] = {}
"""Per thread: (module or optimizer, trace function) for each call that switched tracing off."""
_resting: set[int] = set()
"""Threads in an unobserved pass of `check` (their tracer is quiet): the hooks leave every call be."""


def rest(resting: bool) -> None:
    """While this thread's script runs an unobserved pass, switching tracing off and on around library
    calls costs more than it saves: the hooks are taken away (PyTorch's calls then skip its hook
    machinery), and put back when a pass is observed again."""
    tid = threading.get_ident()
    with _lock:
        if resting:
            _resting.add(tid)
            if _undo and _active and _resting.issuperset(_active):
                _uninstall()
        else:
            _resting.discard(tid)
            if not _undo and tid in _active:
                _install()


def _on_module_registered(*_args: Any) -> None:
    """A submodule was assigned somewhere: cached module trees may be stale."""
    global _generation
    _generation += 1


def _untrace(owner: Any, safe: Callable[[LibraryCalls], bool], meanwhile: Any = None) -> None:
    """Switch this thread's tracing off for a call of `owner` when `safe` says it cannot reach user code
    (`meanwhile`: the trace function to leave in place, None for none)."""
    tid = threading.get_ident()
    lib = _active.get(tid)
    if lib is None or tid in _resting:
        return
    tracer = sys.gettrace()
    if tracer is None:
        return  # already untraced (an outer call), or not traced at all
    sys.settrace(None)
    try:
        ok = safe(lib)
    except (TypeError, AttributeError, RuntimeError):
        ok = False  # something unusual about the call: keep tracing it
    if ok:
        _off.setdefault(tid, []).append((owner, tracer))
        if meanwhile is not None:
            sys.settrace(meanwhile)
    else:
        sys.settrace(tracer)


def recover() -> None:
    """An exception reached the user's code: the untraced calls it left are over, though an optimizer's
    post-hook never ran (PyTorch calls it only when `step` returns). Tracing is back as before them."""
    stack = _off.get(threading.get_ident())
    tracer = None
    while stack:
        tracer = stack.pop()[1]
    if tracer is not None:
        sys.settrace(tracer)


def _retrace(owner: Any) -> None:
    """The call of `owner` that switched tracing off is over: switch it back on."""
    stack = _off.get(threading.get_ident())
    if stack and stack[-1][0] is owner:
        sys.settrace(stack.pop()[1])


def _module_pre(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
    _untrace(module, lambda lib: lib.module_safe(module, args, {}))


def _module_post(module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> None:
    _retrace(module)


def _step_pre(opt: torch.optim.Optimizer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if type(opt).__module__.partition(".")[0] == "torch":  # another library's may call back into the user's
        # `getattr` as the trace function: new frames run untraced (it answers None, from C), while the
        # user's frame that called `step` keeps its own, so an exception out of `step` is still seen there
        _untrace(opt, lambda lib: lib.optimizer_safe(opt, args, kwargs), meanwhile=getattr)


def _step_post(opt: torch.optim.Optimizer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _retrace(opt)


def _install() -> None:
    for handle in (
        _nn_module.register_module_forward_pre_hook(_module_pre),
        _nn_module.register_module_forward_hook(_module_post, always_call=True),
        _nn_module.register_module_module_registration_hook(_on_module_registered),
        _optim_module.register_optimizer_step_pre_hook(_step_pre),
        _optim_module.register_optimizer_step_post_hook(_step_post),
    ):
        _undo.append(handle.remove)


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
            except BaseException:
                _uninstall()
                raise
        _active[tid] = lib
    try:
        yield
    finally:
        with _lock:
            _active.pop(tid, None)
            _off.pop(tid, None)
            _resting.discard(tid)
            if not _active:
                _uninstall()
