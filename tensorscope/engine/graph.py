"""A tensor's autograd graph as a small tree of GraphNodes, walked once per `grad_fn` and cached on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from tensorscope.engine.values import is_a
from tensorscope.model import GRAPH_MORE_CAP, GraphNode
from tensorscope.shapes import shape_text

MAX_NODES = 40
"""Lines drawn per tensor; a longer graph (a loss summed over many iterations) is cut with `…`."""
MAX_DEPTH = 12
"""Deepest level drawn; each branch is cut on its own below it (a long chain does not hide its siblings)."""
MORE_CAP = GRAPH_MORE_CAP
"""A cut's count of the nodes below it stops here (shown `100+`)."""
COUNT_BUDGET = 1000
"""Nodes visited to count what the cuts hide, all cuts of one graph together (the walk's work is bounded:
at most MAX_NODES drawn plus this many counted); a cut past it says only that the graph goes on."""
_CACHE_KEY = "tensorscope.graph"
"""Key in `grad_fn.metadata`: the walk is stored on the node itself, so it lives and dies with the graph."""

_Shape = tuple[int, str | None, Any, bool, int]
"""(depth, node name or None for a cut, leaf tensor or None, drawn before, nodes hidden by a cut) — leaf
names are filled per step."""


def graph_of(grad_fn: Any, names: Mapping[int, str]) -> tuple[GraphNode, ...]:
    """The graph below `grad_fn`, leaves named by `names` (id of tensor -> the user's name)."""
    try:
        shape = _shape(grad_fn)
    except Exception:  # a custom Function with odd nodes: show nothing rather than break the step
        return ()
    return tuple(
        GraphNode(depth, name or "…", _leaf_name(leaf, names) if leaf is not None else None, again, more)
        for depth, name, leaf, again, more in shape
    )


def _leaf_name(t: Any, names: Mapping[int, str]) -> str:
    name = names.get(id(t))
    if name is not None:
        return name
    if is_a(t, torch.Tensor):
        return f"{shape_text(t.shape)} {str(t.dtype).removeprefix('torch.')}"
    return "?"


def _shape(grad_fn: Any) -> list[_Shape]:
    meta = getattr(grad_fn, "metadata", None)
    cached = meta.get(_CACHE_KEY) if isinstance(meta, dict) else None
    if cached is not None:
        return cached
    out = _walk(grad_fn)
    if isinstance(meta, dict):
        meta[_CACHE_KEY] = out
    return out


def _walk(grad_fn: Any) -> list[_Shape]:
    """Depth first from `grad_fn`: each branch is cut below MAX_DEPTH with a `…` saying how many nodes it
    hides; once MAX_NODES lines are drawn, one last `…` stands for everything not drawn."""
    out: list[_Shape] = []
    drawn: set[int] = set()
    budget = [COUNT_BUDGET]
    stack: list[tuple[Any, int]] = [(grad_fn, 0)]
    while stack:
        node, depth = stack.pop()
        if len(out) >= MAX_NODES:  # no room left: one cut for this node and every branch still pending
            rest = [node, *(n for n, _ in reversed(stack))]
            out.append((depth, None, None, False, _count_below(rest, drawn, budget)))
            break
        again = id(node) in drawn
        if depth > MAX_DEPTH and not again:
            out.append((depth, None, None, False, _count_below([node], drawn, budget)))
            continue
        name = node.name().rpartition("::")[2]
        leaf = getattr(node, "variable", None) if name == "AccumulateGrad" else None
        out.append((depth, name, leaf, again, 0))
        if again:
            continue
        drawn.add(id(node))
        children = [child for child, _ in node.next_functions if child is not None]
        stack.extend((child, depth + 1) for child in reversed(children))
    return out


def _count_below(starts: list[Any], drawn: set[int], budget: list[int]) -> int:
    """How many distinct nodes `starts` and the nodes below them hold that are not drawn, up to MORE_CAP
    (0: unknown, the graph's counting budget is spent)."""
    if budget[0] < MORE_CAP:
        return 0
    seen: set[int] = set()
    stack = [n for n in starts if id(n) not in drawn]
    while stack and len(seen) < MORE_CAP:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(child for child, _ in node.next_functions
                     if child is not None and id(child) not in drawn and id(child) not in seen)
    budget[0] -= len(seen)
    return len(seen)
