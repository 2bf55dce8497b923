"""Walking an autograd graph: every node reachable from some roots, each once, within a bound."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["walk_graph"]


def walk_graph(roots: Iterable[Any], limit: int) -> Iterator[Any]:
    """The autograd nodes reachable from `roots` (`grad_fn` objects; None is skipped), depth first, each
    once, at most `limit` of them. The nodes are kept alive until the walk ends, so their ids stay theirs."""
    stack = [r for r in roots if r is not None]
    seen: set[int] = set()
    keep: list[Any] = []
    while stack and len(seen) < limit:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        keep.append(node)
        yield node
        for nxt, _ in node.next_functions:
            if nxt is not None and id(nxt) not in seen:
                stack.append(nxt)
