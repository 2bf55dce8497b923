"""A tensor's autograd graph as a small tree of GraphNodes, walked once per `grad_fn` and cached on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from tensorscope.engine.values import is_a
from tensorscope.model import GraphNode

MAX_NODES = 40
"""Nodes drawn per tensor; a longer graph (a loss summed over many iterations) is cut with `…`."""
MAX_DEPTH = 12
_CACHE_KEY = "tensorscope.graph"
"""Key in `grad_fn.metadata`: the walk is stored on the node itself, so it lives and dies with the graph."""

_Shape = tuple[int, str | None, Any, bool]
"""(depth, node name, leaf tensor or None, drawn before) — leaf names are filled per step."""


def graph_of(grad_fn: Any, names: Mapping[int, str]) -> tuple[GraphNode, ...]:
    """The graph below `grad_fn`, leaves named by `names` (id of tensor -> the user's name)."""
    try:
        shape = _shape(grad_fn)
    except Exception:  # a custom Function with odd nodes: show nothing rather than break the step
        return ()
    return tuple(
        GraphNode(depth, name or "…", _leaf_name(leaf, names) if leaf is not None else None, again)
        for depth, name, leaf, again in shape
    )


def _leaf_name(t: Any, names: Mapping[int, str]) -> str:
    name = names.get(id(t))
    if name is not None:
        return name
    if is_a(t, torch.Tensor):
        shape = "×".join(str(d) for d in t.shape) or "()"
        return f"{shape} {str(t.dtype).removeprefix('torch.')}"
    return "?"


def _shape(grad_fn: Any) -> list[_Shape]:
    meta = getattr(grad_fn, "metadata", None)
    cached = meta.get(_CACHE_KEY) if isinstance(meta, dict) else None
    if cached is not None:
        return cached
    out: list[_Shape] = []
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(grad_fn, 0)]
    while stack:
        node, depth = stack.pop()
        if len(out) >= MAX_NODES or depth > MAX_DEPTH:
            out.append((depth, None, None, False))
            break
        name = node.name().rpartition("::")[2]
        leaf = getattr(node, "variable", None) if name == "AccumulateGrad" else None
        again = id(node) in seen
        out.append((depth, name, leaf, again))
        if again:
            continue
        seen.add(id(node))
        children = [child for child, _ in node.next_functions if child is not None]
        stack.extend((child, depth + 1) for child in reversed(children))
    if isinstance(meta, dict):
        meta[_CACHE_KEY] = out
    return out
