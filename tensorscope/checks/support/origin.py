"""Where a tensor that reached a failing operation came from: the user's line, in an outer function, that
bound it (`idx = torch.tensor(...)` at module level, passed on as `forward(self, idx)`).

Found from the running frames, not guessed: the very tensor object is looked up among the variables of the
user's calling frames, and a line is named only when exactly one statement of that scope binds the name.
"""

from __future__ import annotations

import ast
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tensorscope.checks.support.source import source_tree, strip_comment

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

__all__ = ["Origin", "origin_of"]

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_SCOPES = (*_FUNCTIONS, ast.ClassDef)


@dataclass(frozen=True)
class Origin:
    """The statement that bound a tensor, in an outer user frame."""

    name: str
    """The name it has there."""
    line: int
    code: str
    """That statement's first line, stripped."""
    frame: types.FrameType


def _parameters(code: types.CodeType) -> tuple[str, ...]:
    count = code.co_argcount + code.co_kwonlyargcount
    return code.co_varnames[:count]


def _bound_to(frame: types.FrameType, value: Any, prefer: str) -> str | None:
    """A name of `frame` whose value is `value` itself (`prefer` first)."""
    try:
        scope = frame.f_locals
        if scope.get(prefer) is value:
            return prefer
        for name, v in scope.items():
            if v is value and not name.startswith("_"):
                return str(name)
    except Exception:
        return None
    return None


def _targets(node: ast.AST) -> list[str]:
    """The plain names a binding target binds (`a`, `(a, b)`, `[a, *b]`)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    if isinstance(node, ast.Tuple | ast.List):
        return [n for elt in node.elts for n in _targets(elt)]
    return []


def _binders(scope: ast.AST, name: str) -> list[int]:
    """The lines of the statements in `scope` (not in nested functions or classes) that bind `name`."""
    found: list[int] = []
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            if getattr(node, "name", None) == name:
                found.append(node.lineno)
            continue
        bound: list[str] = []
        if isinstance(node, ast.Assign):
            bound = [n for t in node.targets for n in _targets(t)]
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr | ast.For | ast.AsyncFor):
            bound = _targets(node.target)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            bound = _targets(node.optional_vars)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound = [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound = [node.name]
        elif isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            return []  # bound from elsewhere: no single line to name
        if name in bound:
            found.append(getattr(node, "lineno", 0))
        stack.extend(ast.iter_child_nodes(node))
    return found


def _scope_of(tree: ast.Module, code: types.CodeType) -> ast.AST | None:
    """The function (or module) whose code object is `code`."""
    if code.co_name == "<module>":
        return tree
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == code.co_name:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            if code.co_firstlineno in (first, node.lineno):
                return node
    return None


def _globals_rebound(tree: ast.Module, name: str) -> bool:
    return any(isinstance(n, ast.Global) and name in n.names for n in ast.walk(tree))


def _binding_line(ctx: RunContext, frame: types.FrameType, name: str) -> int | None:
    """The one line of `frame`'s scope that binds `name`; None when there are several (or none)."""
    tree = source_tree(ctx.source_of(frame.f_code))
    if tree is None:
        return None
    scope = _scope_of(tree, frame.f_code)
    if scope is None or (scope is tree and _globals_rebound(tree, name)):
        return None
    lines = _binders(scope, name)
    return lines[0] if len(lines) == 1 else None


def origin_of(ctx: RunContext, tensor: Any, name: str, frame: types.FrameType | None) -> Origin | None:
    """The line of an outer user function that bound `tensor`, which the failing `frame` received as its
    parameter `name`; None when it was made in `frame` itself or cannot be told for sure."""
    if frame is None or not name.isidentifier() or name not in _parameters(frame.f_code):
        return None
    wanted = name
    f = frame.f_back
    while f is not None:
        if ctx.is_user_code(f.f_code):
            found = _bound_to(f, tensor, wanted)
            if found is None:
                return None
            if found in _parameters(f.f_code) and f.f_code.co_name != "<module>":
                wanted = found  # handed down from further out
                f = f.f_back
                continue
            if f.f_code.co_filename != frame.f_code.co_filename:
                return None
            line = _binding_line(ctx, f, found)
            if line is None:
                return None
            code = strip_comment(ctx.source_line(f, line)).strip()
            return Origin(found, line, code, f)
        f = f.f_back
    return None
