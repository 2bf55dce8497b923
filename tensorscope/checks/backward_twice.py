"""`backward-twice`: backward() through a graph whose saved values an earlier backward() freed."""

from __future__ import annotations

import ast
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks.base import BackwardErrorCheck
from tensorscope.checks.support.culprits import graph_nodes
from tensorscope.checks.support.source import statement_path
from tensorscope.engine.collect import iter_named_tensors
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.checks.support.culprits import FailedBackward
    from tensorscope.engine.context import RunContext

_TEXT = "Trying to backward through the graph a second time"
_USER_FRAMES = 3
"""How many of the user's frames (the failing one and its callers) are searched for the loop."""


def _names(node: ast.AST | None, ctx: type) -> list[str]:
    if node is None:
        return []
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)]


def _events(stmts: list[ast.stmt]) -> Iterator[tuple[bool, str]]:
    """(is_store, name) for the plain names a block reads and assigns, in execution order."""
    for stmt in stmts:
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            yield from ((False, n) for n in _names(stmt.value, ast.Load))
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                yield from ((False, n) for n in _names(t, ast.Load))
                if isinstance(stmt, ast.AugAssign) and isinstance(t, ast.Name):
                    yield False, t.id
                yield from ((True, n) for n in _names(t, ast.Store))
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            yield from ((False, n) for n in _names(stmt.iter, ast.Load))
            yield from ((True, n) for n in _names(stmt.target, ast.Store))
            yield from _events(stmt.body)
            yield from _events(stmt.orelse)
        elif isinstance(stmt, ast.While | ast.If):
            yield from ((False, n) for n in _names(stmt.test, ast.Load))
            yield from _events(stmt.body)
            yield from _events(stmt.orelse)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                yield from ((False, n) for n in _names(item.context_expr, ast.Load))
                yield from ((True, n) for n in _names(item.optional_vars, ast.Store))
            yield from _events(stmt.body)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, *[h.body for h in stmt.handlers], stmt.orelse, stmt.finalbody):
                yield from _events(block)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield True, stmt.name
        else:
            yield from ((False, n) for n in _names(stmt, ast.Load))
            yield from ((True, n) for n in _names(stmt, ast.Store))


def loop_names(loop: ast.For | ast.While) -> tuple[set[str], set[str]]:
    """(carried, outside): names the loop body reads before assigning them, and names it only reads."""
    first: dict[str, bool] = {}
    stored: set[str] = set()
    for is_store, name in _events(loop.body):
        first.setdefault(name, is_store)
        if is_store:
            stored.add(name)
    loop_vars = set(_names(loop.target, ast.Store)) if isinstance(loop, ast.For) else set()
    carried = {n for n, was_store in first.items() if not was_store and n in stored}
    outside = {n for n in first if n not in stored}
    return carried - loop_vars, outside - loop_vars


def _innermost_loop(path: list[ast.stmt], line: int) -> ast.For | ast.While | None:
    for node in reversed(path):
        if isinstance(node, ast.For | ast.While) and node.body and node.body[0].lineno <= line:
            return node
    return None


def _with_graph(value: Any, nodes: set[int]) -> bool:
    if not is_a(value, torch.Tensor) or value.grad_fn is None:
        return False
    return not nodes or id(value.grad_fn) in nodes


def diagnose(ctx: Any, frame: types.FrameType | None, line: int, target: torch.Tensor | None
             ) -> tuple[str, str] | None:
    """('carried', name) or ('before-loop', name): the tensor that ties this graph to a freed one."""
    nodes = graph_nodes(target)
    is_user = getattr(ctx, "is_user_code", None)
    f, n, searched = frame, line, 0
    while f is not None and searched < _USER_FRAMES:
        if is_user is None or is_user(f.f_code):
            searched += 1
            loop = _innermost_loop(statement_path(f.f_code.co_filename, n), n)
            if loop is not None:
                carried, outside = loop_names(loop)
                local = f.f_locals
                scope = {**f.f_globals, **local} if f.f_globals is not local else local
                for kind, names in (("carried", carried), ("before-loop", outside)):
                    for name in sorted(names):
                        if _with_graph(scope.get(name), nodes):
                            return kind, name
                break
        f = f.f_back
        n = f.f_lineno if f is not None else 0
    return None


def shared_part(frame: types.FrameType | None, target: torch.Tensor | None) -> tuple[str, str] | None:
    """(shared, other): a named tensor in `target`'s graph that is also in the graph of `other`, another
    result in scope, whose backward() freed it."""
    if frame is None or target is None or target.grad_fn is None:
        return None
    mine = graph_nodes(target)
    local = frame.f_locals
    scope = {**frame.f_globals, **local} if frame.f_globals is not local else dict(local)
    named = [(n, t) for n, t, _kind in iter_named_tensors(scope)
             if t is not target and t.grad_fn is not None]
    for other_name, other in named:
        if id(other.grad_fn) in mine:
            continue  # part of this graph, not another result
        common = mine & graph_nodes(other)
        if not common:
            continue
        for name, t in named:
            if t is not other and id(t.grad_fn) in common:
                return name, other_name
    return None


def _safe_shared(frame: types.FrameType | None, target: torch.Tensor | None) -> tuple[str, str] | None:
    try:
        return shared_part(frame, target)
    except RuntimeError:  # PyTorch refused to show part of the graph
        return None


class BackwardTwice(BackwardErrorCheck):
    """Explains a second backward() through a freed graph, naming the tensor that links the graphs."""

    code: ClassVar[str] = "backward-twice"
    text = _TEXT

    def explain(self, ctx: RunContext, failed: FailedBackward) -> bool:
        frame, line, name, tensor = failed.frame, failed.line, failed.name, failed.tensor
        data = failed.data()
        tensors = [name]
        found = None
        try:
            found = diagnose(ctx, frame, line, tensor)
        except RuntimeError:  # PyTorch refused to show part of the graph
            found = None
        if found is not None and found[1] != name:
            data["variant"], data["other"] = found
            tensors.append(found[1])
        elif (shared := _safe_shared(frame, tensor)) is not None:
            data.update(variant="shared", shared=shared[0], other=shared[1])
            tensors += list(shared)
        self.flag(ctx, "error", data, tensors=tuple(tensors), line=line)
        return True
