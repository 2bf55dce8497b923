"""Torch-level watching for the live checks: thread-filtered wrappers around a few torch entry points.

A wrapper is installed once per attribute (refcounted) and routes calls made in a watched thread to
that thread's handlers; every other thread goes straight to PyTorch. Handlers receive `call`, the next
function in the chain, and must return what it returns and let its exceptions through untouched.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

Handler = Callable[..., Any]

_lock = threading.Lock()
_MISSING = object()


class _Slot:
    """One patched attribute: the original and, per thread, the handlers in install order."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner = owner
        self.name = name
        self.own = owner.__dict__.get(name, _MISSING)
        self.original = getattr(owner, name)
        self.handlers: dict[int, list[Handler]] = {}
        self.wrapper = self._make_wrapper()

    def _make_wrapper(self) -> Callable[..., Any]:
        handlers = self.handlers
        original = self.original
        get_ident = threading.get_ident

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            hs = handlers.get(get_ident())
            if not hs:
                return original(*args, **kwargs)
            if len(hs) == 1:
                return hs[0](original, *args, **kwargs)
            return _call_chain(hs, len(hs) - 1, original, args, kwargs)

        wrapper.__name__ = getattr(original, "__name__", self.name)
        wrapper.__qualname__ = getattr(original, "__qualname__", self.name)
        wrapper.__doc__ = getattr(original, "__doc__", None)
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        return wrapper

    def restore(self) -> None:
        if self.own is _MISSING:
            try:
                delattr(self.owner, self.name)
            except AttributeError:
                pass
        else:
            setattr(self.owner, self.name, self.own)


_slots: dict[tuple[int, str], _Slot] = {}


def _call_chain(hs: list[Handler], i: int, original: Callable[..., Any], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    if i < 0:
        return original(*args, **kwargs)
    if i == 0:
        return hs[0](original, *args, **kwargs)

    def call(*a: Any, **k: Any) -> Any:
        return _call_chain(hs, i - 1, original, a, k)

    return hs[i](call, *args, **kwargs)


@contextmanager
def intercept(owner: Any, name: str, handler: Handler) -> Iterator[None]:
    """Route calls of `owner.name` made in this thread through `handler` while the block runs."""
    tid = threading.get_ident()
    key = (id(owner), name)
    with _lock:
        slot = _slots.get(key)
        if slot is None:
            slot = _Slot(owner, name)
            _slots[key] = slot
            setattr(owner, name, slot.wrapper)
        slot.handlers.setdefault(tid, []).append(handler)
    try:
        yield
    finally:
        with _lock:
            hs = slot.handlers.get(tid, [])
            if handler in hs:
                hs.remove(handler)
            if not hs:
                slot.handlers.pop(tid, None)
            if not slot.handlers:
                slot.restore()
                _slots.pop(key, None)


def untraced(fn: Callable[..., Any], *args: Any) -> Any:
    """Run our own bookkeeping with this thread's trace function off (no call events for our calls)."""
    tracer = sys.gettrace()
    if tracer is None:
        return fn(*args)
    sys.settrace(None)
    try:
        return fn(*args)
    finally:
        sys.settrace(tracer)


def backward_roots(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[torch.Tensor], Any]:
    """The root tensors and the `inputs` argument of a `torch.autograd.backward` call."""
    tensors = args[0] if args else kwargs.get("tensors")
    inputs = kwargs.get("inputs")
    if inputs is None and len(args) > 5:
        inputs = args[5]
    if isinstance(tensors, torch.Tensor):
        roots = [tensors]
    elif isinstance(tensors, list | tuple):
        roots = [t for t in tensors if isinstance(t, torch.Tensor)]
    else:
        roots = []
    return roots, inputs


_walk_cache: tuple[tuple[Any, ...], list[torch.Tensor]] | None = None
_MAX_NODES = 20_000


def _node_key(node: Any) -> tuple[int, str]:
    return (node._sequence_nr(), node.name()) if node is not None else (-1, "")


def leaves_written(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The leaf tensors whose `.grad` a `torch.autograd.backward(*args, **kwargs)` call writes."""
    global _walk_cache
    roots, inputs = backward_roots(args, kwargs)
    key = tuple((id(r), _node_key(r.grad_fn)) for r in roots) + (id(inputs),)
    cached = _walk_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    leaves: list[torch.Tensor] = []
    seen: set[int] = set()
    keep: list[Any] = []
    stack: list[Any] = []
    for r in roots:
        gf = r.grad_fn
        if gf is not None:
            stack.append(gf)
        elif r.is_leaf and r.requires_grad:
            leaves.append(r)
    while stack and len(seen) < _MAX_NODES:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        keep.append(node)
        var = getattr(node, "variable", None)
        if isinstance(var, torch.Tensor):
            leaves.append(var)
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None and id(nxt) not in seen:
                stack.append(nxt)
    if inputs is not None:
        wanted = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
        ids = {id(t) for t in wanted if isinstance(t, torch.Tensor)}
        leaves = [t for t in leaves if id(t) in ids]
    unique: dict[int, torch.Tensor] = {}
    for t in leaves:
        unique.setdefault(id(t), t)
    result = list(unique.values())
    _walk_cache = (key, result)
    return result


def forget_walk() -> None:
    """Drop the cached graph walk (it holds tensors); called once a backward() returns."""
    global _walk_cache
    _walk_cache = None
