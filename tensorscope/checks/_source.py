"""What the live checks read from the user's source: one parsed summary per line, names of tensors.

Lines are parsed once (cached by code object and line number); values are looked up by name in the
user's frame, never by evaluating code, so nothing the script would not run is ever run.
"""

from __future__ import annotations

import ast
import linecache
import re
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from tensorscope import shapes
from tensorscope.engine.collect import format_number, iter_named_tensors, scope_of
from tensorscope.engine.instrument import static_value
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

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
            stmt = _statement(text)
            continuation = False
            if stmt is None and text.strip() and not text.strip().startswith("#"):
                stmt = _statement_in_file(frame.f_code.co_filename, line)
                continuation = stmt is None
            info = _parse(text, stmt)
            if continuation:
                info = LineInfo(text=text, continuation=True)
        except (SyntaxError, ValueError, RecursionError):  # a line ast cannot take: nothing known about it
            info = LineInfo(text=text)
        _cache[key] = info
    return info


_trees: dict[str, dict[int, ast.stmt]] = {}


def _statement_in_file(filename: str, line: int) -> ast.stmt | None:
    """The simple statement starting at `line`, from the whole file (for statements over several lines)."""
    starts = _trees.get(filename)
    if starts is None:
        starts = {}
        try:
            tree = ast.parse("".join(linecache.getlines(filename)))
            for node in ast.walk(tree):
                if isinstance(node, ast.stmt) and not hasattr(node, "body"):
                    starts.setdefault(node.lineno, node)
        except (SyntaxError, ValueError):
            pass
        _trees[filename] = starts
    return starts.get(line)


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def accumulator(node: ast.AST) -> str | None:
    """`a.b` or `a.b["key"]` (a constant key) as written: what a running sum can be kept in; else None."""
    if (isinstance(node, ast.Subscript) and dotted(node.value) is not None
            and isinstance(node.slice, ast.Constant) and type(node.slice.value) in (str, int)):
        return ast.unparse(node)
    return dotted(node)


def _statement(text: str) -> ast.stmt | None:
    src = text.strip()
    if not src or src.startswith("#"):
        return None
    for candidate in (src, src + " pass", src.rstrip(":") + ": pass"):
        try:
            tree = ast.parse(candidate)
        except SyntaxError:
            continue
        if tree.body:
            return tree.body[0]
    return None


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


_NOTHING = object()


def resolve(frame: types.FrameType, name: str, local: Any = None) -> Any:
    """The value of a dotted name in `frame` (locals, globals), or None; read without running any of the
    user's code (no property, no `__getattr__`), never raises."""
    try:
        value = static_value(name, local if local is not None else frame.f_locals, frame.f_globals)
    except LookupError:
        return None
    return value


def instance_dict(obj: Any) -> dict[str, Any] | None:
    """An object's own attribute dict, read without running its code; None when it has none."""
    try:
        d = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return None
    return d if type(d) is dict else None


def user_frames(ctx: RunContext, frame: types.FrameType | None = None) -> list[types.FrameType]:
    """The user's frames from the innermost outwards."""
    frames: list[types.FrameType] = []
    for start in (frame, ctx.user_frame()):
        f = start
        while f is not None:
            if f not in frames and ctx.is_user_code(f.f_code):
                frames.append(f)
            f = f.f_back
    return frames


class Names:
    """Finds the user's names for tensors by identity (and by storage, for aliases) in their frames."""

    def __init__(self, ctx: RunContext, frame: types.FrameType | None = None,
                 namespace: dict[str, Any] | None = None) -> None:
        self._by_id: dict[int, str] = {}
        self._by_ptr: dict[tuple[int, tuple[int, ...]], str] = {}
        self._keep: list[torch.Tensor] = []
        self._order: dict[str, int] = {}
        scopes: list[Any] = list(user_frames(ctx, frame))
        if namespace is not None:
            scopes.append(namespace)
        with torch._C.DisableTorchFunction():
            for f in scopes:
                scope = dict(f) if isinstance(f, dict) else scope_of(f)
                for name, t, _kind in iter_named_tensors(scope):
                    self._add(name, t)
                for name, value in scope.items():
                    if is_a(value, torch.optim.Optimizer):
                        self._add_optimizer(name, value)
                    elif _is_plain_object(value):
                        self._add_attributes(name, value)

    def _add(self, name: str, t: torch.Tensor) -> None:
        if id(t) not in self._by_id:
            self._by_id[id(t)] = name
            self._order.setdefault(name, len(self._order))
            self._keep.append(t)
        try:
            key = (t.data_ptr(), tuple(t.shape))
        except RuntimeError:  # a tensor without storage (meta, functional): known by identity only
            return
        self._by_ptr.setdefault(key, name)

    def _add_attributes(self, name: str, obj: Any) -> None:
        """One level into a plain object (a trainer's `self.model`, `self.h`)."""
        state = instance_dict(obj) or {}
        attrs = {f"{name}.{k}": v for k, v in list(state.items())[:64]
                 if isinstance(k, str) and not k.startswith("__")}
        for child, t, _kind in iter_named_tensors(attrs):
            self._add(child, t)
        for child, value in attrs.items():
            if is_a(value, torch.optim.Optimizer):
                self._add_optimizer(child, value)

    def _add_optimizer(self, name: str, opt: torch.optim.Optimizer) -> None:
        for gi, group in enumerate(opt.param_groups):
            for pi, p in enumerate(group.get("params", [])):
                if is_a(p, torch.Tensor) and id(p) not in self._by_id:
                    self._add(f"{name}.param_groups[{gi}]['params'][{pi}]", p)

    def get(self, t: torch.Tensor) -> str | None:
        """The user's name for `t` (or for a tensor with the same storage and shape), if any."""
        name = self._by_id.get(id(t))
        if name is not None:
            return name
        try:
            return self._by_ptr.get((t.data_ptr(), tuple(t.shape)))
        except RuntimeError:  # no storage
            return None

    def rank(self, t: torch.Tensor) -> int:
        """Where `t` comes in the user's scope (definition order), for listing names as the user would."""
        name = self.get(t)
        return self._order.get(name, len(self._order)) if name is not None else len(self._order)

    def name(self, t: torch.Tensor) -> str:
        """A name for `t`: the user's, or a description by shape."""
        return self.get(t) or f"a tensor of shape {shape_text(t)}"


def _is_plain_object(value: Any) -> bool:
    if isinstance(value, torch.Tensor | torch.nn.Module | types.ModuleType | type | types.FunctionType
                  | types.MethodType | types.BuiltinFunctionType | list | tuple | dict):
        return False
    return instance_dict(value) is not None


def shape_text(t: torch.Tensor) -> str:
    """A tensor's shape in tensorscope's one notation (`8×1`, `8`, `()`: tensorscope/shapes.py)."""
    return shapes.shape_text(t.shape)


def join_names(names: list[str], most: int = 3) -> str:
    """`w, b` or `a, b, c (+2)`: a few names, the rest counted."""
    shown = names[:most]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")


def value_text(t: torch.Tensor) -> str:
    """A tensor's value for a message: the number for one element, else its norm."""
    try:
        with torch.no_grad(), torch._C.DisableTorchFunction():
            x = t.detach()
            if x.numel() == 1:
                return format_number(float(x.reshape(()).double()))
            return f"‖·‖={format_number(float(x.double().norm()))}"
    except (RuntimeError, TypeError, ValueError):  # no data (meta), complex, an unreadable dtype
        return "?"


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


def code_text(text: str) -> str:
    """A source line as a short statement for a message: stripped, without its comment."""
    stmt = _statement(text)
    if stmt is not None and not isinstance(stmt, ast.For | ast.While | ast.If | ast.With | ast.FunctionDef):
        try:
            return ast.unparse(stmt)
        except (ValueError, RecursionError):
            pass
    return text.split("#", 1)[0].strip() if "#" in text else text.strip()
