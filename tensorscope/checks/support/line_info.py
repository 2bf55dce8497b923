"""What one source line does, as the live checks care: names it assigns or changes in place, a running sum,
`.grad` reads, `.step()` calls, its arithmetic (`line_info`, parsed once per line and cached).

Lines are parsed once (cached by file and line number); nothing the script would not run is ever run.
"""

from __future__ import annotations

import ast
import re
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tensorscope.checks.support.source import dotted, parse_line, statement_at
from tensorscope.checks.support.text import code_text

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

__all__ = ["AfterLine", "LineInfo", "accumulator", "line_info"]

_EXPLICIT_DIMS = re.compile(r"\bNone\b|unsqueeze|newaxis|\bouter\b|einsum|\bger\b")


@dataclass(frozen=True)
class LineInfo:
    """What one source line does, as far as the checks care."""

    text: str = ""
    assigned: tuple[str, ...] = ()
    """Dotted names bound or changed in place by the line (`loss`, `w`, `self.h`)."""
    accumulates: tuple[str, str] | None = None
    """(target, added expression) for `t += e` or `t = t + e`."""
    appends: tuple[str, str] | None = None
    """(list, appended expression) for `xs.append(e)`."""
    grad_reads: tuple[str, ...] = ()
    """Dotted names whose `.grad` the line reads."""
    steps: tuple[str, ...] = ()
    """Dotted names whose `.step()` the line calls."""
    explicit_dims: bool = False
    """The line inserts dimensions on purpose (`[:, None]`, `unsqueeze`, `einsum`, `outer`)."""
    binops: tuple[tuple[str, str, str], ...] = ()
    """(operator symbol, left text, right text) of the arithmetic in the line."""
    continuation: bool = False
    """The line continues a statement begun above (its own line event comes mid-statement)."""
    code: str = ""
    """The statement as one short line of code (no comment), for messages."""
    inplace: tuple[str, ...] = ()
    """Dotted names the line may change in place: `h *= 2`, `h.mul_(2)`, `h[0] = 0`, `h[0] += 1`."""


_cache: dict[tuple[str, int], LineInfo] = {}
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def line_info(ctx: RunContext, frame: types.FrameType, line: int) -> LineInfo:
    """The parsed summary of `line` in `frame`'s file (cached)."""
    key = (frame.f_code.co_filename, line)
    info = _cache.get(key)
    if info is None:
        text = ""
        try:
            text = ctx.source_line(frame, line)
            stmt = parse_line(text)
            continuation = False
            if stmt is None and text.strip() and not text.strip().startswith("#"):
                stmt = statement_at(frame.f_code.co_filename, line)
                continuation = stmt is None
            info = _parse(text, stmt)
            if continuation:
                info = LineInfo(text=text, continuation=True)
        except (SyntaxError, ValueError, RecursionError):  # a line ast cannot take: nothing known about it
            info = LineInfo(text=text)
        _cache[key] = info
    return info


def accumulator(node: ast.AST) -> str | None:
    """`a.b` or `a.b["key"]` (a constant key) as written: what a running sum can be kept in; else None."""
    if (isinstance(node, ast.Subscript) and dotted(node.value) is not None
            and isinstance(node.slice, ast.Constant) and type(node.slice.value) in (str, int)):
        return ast.unparse(node)
    return dotted(node)


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Tuple | ast.List):
        return [n for e in node.elts for n in _targets(e)]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    name = dotted(node)
    return [name] if name else []


def _parse(text: str, stmt: ast.stmt | None) -> LineInfo:
    if stmt is None:
        return LineInfo(text=text, code=code_text(text))
    assigned: list[str] = []
    accumulates = appends = None
    if isinstance(stmt, ast.Assign):
        for t in stmt.targets:
            assigned += _targets(t)
        value = stmt.value
        if (len(stmt.targets) == 1 and isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
                and accumulator(stmt.targets[0]) is not None
                and accumulator(value.left) == accumulator(stmt.targets[0])):
            accumulates = (accumulator(stmt.targets[0]) or "", ast.unparse(value.right))
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        assigned += _targets(stmt.target)
    elif isinstance(stmt, ast.AugAssign):
        assigned += _targets(stmt.target)
        target = accumulator(stmt.target)
        if target and isinstance(stmt.op, ast.Add):
            accumulates = (target, ast.unparse(stmt.value))
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute):
            owner = dotted(func.value)
            if owner and func.attr.endswith("_") and not func.attr.endswith("__"):
                assigned.append(owner)
            if owner and func.attr == "append" and len(stmt.value.args) == 1:
                appends = (owner, ast.unparse(stmt.value.args[0]))
    inplace: list[str] = []
    if not hasattr(stmt, "body"):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
            stmt, ast.AugAssign | ast.AnnAssign) else []
        for t in targets:
            base = t
            while isinstance(base, ast.Subscript):
                base = base.value
            name = dotted(base)
            if name and (base is not t or isinstance(stmt, ast.AugAssign)):
                inplace.append(name)
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr.endswith("_") and not node.func.attr.endswith("__")):
                owner = dotted(node.func.value)
                if owner:
                    inplace.append(owner)
    grad_reads: list[str] = []
    steps: list[str] = []
    binops: list[tuple[str, str, str]] = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Attribute) and node.attr == "grad" and isinstance(node.ctx, ast.Load):
            owner = dotted(node.value)
            if owner and owner not in grad_reads:
                grad_reads.append(owner)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "step":
                owner = dotted(node.func.value)
                if owner:
                    steps.append(owner)
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            binops.append((_OPS[type(node.op)], ast.unparse(node.left), ast.unparse(node.right)))
    compound = hasattr(stmt, "body")
    return LineInfo(
        text=text,
        code=code_text(text) if compound else ast.unparse(stmt),
        assigned=tuple(dict.fromkeys(assigned)),
        inplace=tuple(dict.fromkeys(inplace)),
        accumulates=accumulates,
        appends=appends,
        grad_reads=tuple(grad_reads),
        steps=tuple(steps),
        explicit_dims=bool(_EXPLICIT_DIMS.search(text)),
        binops=tuple(binops),
    )


class AfterLine:
    """Tracks a line until it has run: `advance` returns the previous pending line once it is done."""

    def __init__(self) -> None:
        self.pending: tuple[types.FrameType, int, Any] | None = None

    def advance(self, frame: types.FrameType, line: int) -> tuple[types.FrameType, int, Any] | None:
        """Called at each new line event: the pending (frame, line, data) if that line has finished."""
        p = self.pending
        if p is None:
            return None
        pf = p[0]
        if frame is pf and line == p[1]:
            return None  # back on the first line of a statement written over several lines
        if frame is not pf:
            f = frame.f_back
            while f is not None:
                if f is pf:
                    return None  # a call made by the pending line is still running
                f = f.f_back
        self.pending = None
        return p
