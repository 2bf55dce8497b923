"""What a backward() call writes: its roots, and the leaves whose `.grad` it fills (walked once, cached)."""

from __future__ import annotations

from typing import Any

import torch

from tensorscope.checks.support.graph import walk_graph
from tensorscope.engine.values import is_a


def backward_roots(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[torch.Tensor], Any]:
    """The root tensors and the `inputs` argument of a `torch.autograd.backward` call."""
    tensors = args[0] if args else kwargs.get("tensors")
    inputs = kwargs.get("inputs")
    if inputs is None and len(args) > 5:
        inputs = args[5]
    if is_a(tensors, torch.Tensor):
        roots = [tensors]
    elif isinstance(tensors, list | tuple):
        roots = [t for t in tensors if is_a(t, torch.Tensor)]
    else:
        roots = []
    return roots, inputs


_walk_cache: tuple[tuple[Any, ...], list[torch.Tensor]] | None = None
_MAX_NODES = 20_000
_ACCUMULATE = torch._C._functions.AccumulateGrad


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
    stack: list[Any] = []
    for r in roots:
        gf = r.grad_fn
        if gf is not None:
            stack.append(gf)
        elif r.is_leaf and r.requires_grad:
            leaves.append(r)
    for node in walk_graph(stack, _MAX_NODES):
        if type(node) is _ACCUMULATE:  # a leaf's gradient sink (no attribute lookup that fails)
            leaves.append(node.variable)
    if inputs is not None:
        wanted = [inputs] if is_a(inputs, torch.Tensor) else list(inputs)
        ids = {id(t) for t in wanted if is_a(t, torch.Tensor)}
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
