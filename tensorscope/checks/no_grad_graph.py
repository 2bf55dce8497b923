"""`no-grad-graph`: backward() on a tensor that does not require grad (no graph was recorded)."""

from __future__ import annotations

import ast
import re
import types
from typing import TYPE_CHECKING, ClassVar

import torch

from tensorscope.checks.base import BackwardErrorCheck
from tensorscope.checks.support.resolve import instance_dict
from tensorscope.checks.support.source import scope_body, statement_path
from tensorscope.engine.collect import iter_named_tensors
from tensorscope.engine.handlers import record_error
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.checks.support.culprits import FailedBackward
    from tensorscope.engine.context import RunContext

_TEXT = re.compile(r"element \d+ of tensors does not require grad and does not have a grad_fn")
_NO_GRAD = ("no_grad", "inference_mode")
_CUTS = {"detach": ".detach()", "item": ".item()", "numpy": ".numpy()", "tolist": ".tolist()",
         "detach_": ".detach_()"}
_MAX_LEAVES = 4


def _call_name(node: ast.AST) -> str:
    f = node.func if isinstance(node, ast.Call) else node
    if isinstance(f, ast.Attribute):
        return f.attr
    return f.id if isinstance(f, ast.Name) else ""


def _disables_grad(node: ast.AST) -> bool:
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)`."""
    name = _call_name(node)
    if name in _NO_GRAD:
        return True
    if name == "set_grad_enabled" and isinstance(node, ast.Call) and node.args:
        arg = node.args[0]
        return isinstance(arg, ast.Constant) and arg.value is False
    return False


def no_grad_context(filename: str, line: int) -> tuple[str, int] | None:
    """(`torch.no_grad()`, its line) when `line` runs under a grad-disabling block or decorator."""
    for node in reversed(statement_path(filename, line)):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if _disables_grad(item.context_expr):
                    return ast.unparse(item.context_expr), node.lineno
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for dec in node.decorator_list:
                if _disables_grad(dec):
                    return "@" + ast.unparse(dec), dec.lineno
    disabled: tuple[str, int] | None = None
    for stmt in scope_body(filename, line):
        if stmt.lineno >= line:
            break
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                and _call_name(stmt.value) == "set_grad_enabled":
            disabled = (ast.unparse(stmt.value), stmt.lineno) if _disables_grad(stmt.value) else None
    return disabled


def _root(name: str) -> str | None:
    try:
        node = ast.parse(name, mode="eval").body
    except SyntaxError:
        return None
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def last_assignment(filename: str, line: int, name: str) -> ast.stmt | None:
    """The last statement before `line`, in the same function, that assigns the plain name `name`."""
    found: ast.stmt | None = None
    for stmt in scope_body(filename, line):
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.lineno < line:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    if found is None or node.lineno >= found.lineno:
                        found = node
    return found


def _cut(stmt: ast.stmt, deep: bool = False, frame: types.FrameType | None = None) -> str | None:
    """How an assignment's value lost its graph: `.item()`, `.detach()`, `.data`, `torch.tensor(...)`.

    For an earlier assignment (`deep`), only a cut of something that had a graph counts: a call such
    as `model(x)`, or a tensor that requires grad (making data with `torch.tensor` is not a cut).
    """
    value = getattr(stmt, "value", None)
    if value is None:
        return None
    for node in ast.walk(value):
        cut: ast.AST | None = None
        how = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in _CUTS:
                cut, how = node.func.value, _CUTS[name]
            elif name in ("tensor", "as_tensor", "from_numpy") and not deep:
                cut, how = node, f"torch.{name}(...)"
        elif isinstance(node, ast.Attribute) and node.attr == "data" and isinstance(node.ctx, ast.Load):
            cut, how = node.value, ".data"
        if how is None:
            continue
        if not deep or _had_graph(cut, frame):
            return how
    return None


def _had_graph(node: ast.AST | None, frame: types.FrameType | None) -> bool:
    if node is None:
        return False
    if any(isinstance(n, ast.Call) for n in ast.walk(node)):
        return True
    if frame is None:
        return False
    local = frame.f_locals
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            value = local.get(n.id, frame.f_globals.get(n.id))
            if is_a(value, torch.Tensor) and value.requires_grad:
                return True
    return False


def _history(filename: str, first: ast.stmt | None, depth: int = 3) -> list[ast.stmt]:
    """`first` and the assignments of the names it reads, a few steps back (breadth first)."""
    out: list[ast.stmt] = []
    level = [first] if first is not None else []
    seen: set[int] = set()
    for _ in range(depth):
        following: list[ast.stmt] = []
        for stmt in level:
            if id(stmt) in seen:
                continue
            seen.add(id(stmt))
            out.append(stmt)
            value = getattr(stmt, "value", None)
            if value is None:
                continue
            for node in ast.walk(value):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    found = last_assignment(filename, stmt.lineno, node.id)
                    if found is not None:
                        following.append(found)
        level = following
    return out


def _float_leaves(frame: types.FrameType, exclude: torch.Tensor | None) -> tuple[list[str], bool]:
    """(names of floating-point leaf tensors in scope, whether any tensor in scope requires grad)."""
    local = frame.f_locals
    scopes = [local] if frame.f_globals is local else [local, frame.f_globals]
    attributes = {}  # one level into plain objects: `self.w`, `trainer.model`
    for scope in scopes:
        for owner, value in scope.items():
            state = instance_dict(value) if not isinstance(
                value, torch.nn.Module | types.ModuleType | type) and not callable(value) else None
            if isinstance(state, dict):
                attributes.update({f"{owner}.{k}": v for k, v in state.items() if isinstance(k, str)})
    scopes.append(attributes)
    leaves: list[str] = []
    any_grad = False
    seen: set[int] = set()
    with torch._C.DisableTorchFunction():
        for scope in scopes:
            for name, t, _kind in iter_named_tensors(scope):
                if id(t) in seen:
                    continue
                seen.add(id(t))
                if t.requires_grad:
                    any_grad = True
                if t is not exclude and t.is_leaf and t.is_floating_point() and t.dim() > 0:
                    leaves.append(name)
    return leaves, any_grad


class NoGradGraph(BackwardErrorCheck):
    """Explains backward() on a tensor without a graph, and says why it has none when that is clear."""

    code: ClassVar[str] = "no-grad-graph"
    text = _TEXT

    def explain(self, ctx: RunContext, failed: FailedBackward) -> bool:
        data = failed.data()
        if failed.frame is not None:
            try:
                data.update(self._why(failed.frame, failed.line, failed.name, failed.tensor))
            except Exception as exc:  # a bug of ours: recorded, never swallowed (the flag goes out, no why)
                record_error(ctx, self.code, exc)
        self.flag(ctx, "error", data, tensors=(failed.name,), line=failed.line)
        return True

    def _why(self, frame: types.FrameType, line: int, name: str, tensor: torch.Tensor | None
             ) -> dict[str, str]:
        filename = frame.f_code.co_filename
        root = _root(name)
        assigned = last_assignment(filename, line, root) if root else None
        context = no_grad_context(filename, assigned.lineno if assigned is not None else line)
        if context is not None:
            return {"variant": "no-grad-mode", "context": context[0], "where": str(context[1])}
        for stmt in _history(filename, assigned):
            context = no_grad_context(filename, stmt.lineno)
            if context is not None:
                return {"variant": "no-grad-mode", "context": context[0], "where": str(context[1])}
            how = _cut(stmt, deep=stmt is not assigned, frame=frame)
            if how is not None:
                return {"variant": "detached", "how": how, "where": str(stmt.lineno)}
        leaves, any_grad = _float_leaves(frame, tensor)
        if not any_grad and leaves:
            return {"variant": "nothing-requires-grad", "leaves": ", ".join(leaves[:_MAX_LEAVES]),
                    "first": leaves[0]}
        return {}
