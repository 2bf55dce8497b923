"""`broadcast-expand`: a column (N, 1) meets a vector (N,) and silently broadcasts to (N, N).

Takes the instrumentation layer's operator events (`+ - * /`) on the lines whose operands may be a column
and a vector (read before the line runs, without running anything), and its regression-loss events
(`mse_loss`, `l1_loss`, ... as functions or modules): a few shape comparisons each, nothing more.
Operators run inside libraries are ignored, and so are lines that insert dimensions on purpose
(`[:, None]`, `unsqueeze`, `einsum`, `outer`): those are deliberate outer products.

The operands are named as the flagged line writes them (`net(X)`, `target`), found on the line by the
values of its plain names, never by PyTorch's parameter names (`input`, `target`) or a caller's names;
the fix reshapes them by those names (`y.unsqueeze(1)`, `y.view(-1, 1)`, `net(X).squeeze(1)`).
"""

from __future__ import annotations

import ast
import types
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope import shapes
from tensorscope.checks.base import Check
from tensorscope.checks.support.line_info import line_info
from tensorscope.checks.support.lines import Line, look
from tensorscope.checks.support.names import Names
from tensorscope.checks.support.resolve import Unresolved, resolve_expr
from tensorscope.checks.support.source import dotted
from tensorscope.checks.support.text import shape_text
from tensorscope.engine.instrument import (
    LOSS_NAMES,
    Instrument,
    LineCheck,
    Subscriber,
    is_disguise,
    static_value,
)
from tensorscope.engine.static import stored_grad
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

_SYMBOLS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_UNKNOWN = object()
"""An operand that cannot be read before the line runs (a call, arithmetic)."""
_CONSTANT = object()
"""A number: never a column or a vector."""


def _reader(node: ast.expr) -> Any:
    """How to read an operand at the line's start: `_CONSTANT` (a number), `_UNKNOWN` (a call, arithmetic:
    known only once it runs), or a function of (locals, globals) giving the tensor, `_CONSTANT` or
    `_UNKNOWN`."""
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    if isinstance(node, ast.Constant):
        return _CONSTANT
    grad = isinstance(node, ast.Attribute) and node.attr == "grad"
    name = dotted(node.value if grad else node)  # type: ignore[attr-defined]
    if name is None:
        return _UNKNOWN

    def read(local: Any, global_: dict[str, Any]) -> Any:
        try:
            value = static_value(name, local, global_)
        except LookupError:
            return _UNKNOWN
        if not is_a(value, torch.Tensor):
            return _CONSTANT
        if grad:
            g = stored_grad(value)
            return g if g is not None else _UNKNOWN
        return value

    return read


def _may_pair(t: Any) -> bool:
    """Whether a tensor could be the column or the vector of a column-against-vector operation."""
    if not is_a(t, torch.Tensor):
        return False
    shape = t.shape
    return (len(shape) == 1 and shape[0] > 1) or (len(shape) == 2 and shape[0] > 1 and shape[1] == 1)


def _column_and_vector(a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor, bool] | None:
    """(column, vector, column is the left operand) when `a` and `b` are an (N, 1) and an (N,), N > 1."""
    if not is_a(a, torch.Tensor) or not is_a(b, torch.Tensor):
        return None
    sa, sb = a.shape, b.shape
    if len(sa) == 2 and len(sb) == 1:
        col, vec, left = a, b, True
    elif len(sa) == 1 and len(sb) == 2:
        col, vec, left = b, a, False
    else:
        return None
    n = col.shape[0]
    if n < 2 or col.shape[1] != 1 or vec.shape[0] != n:
        return None
    return col, vec, left


class BroadcastExpand(Check, Subscriber):
    """Flags (N, 1) against (N,) arithmetic in the user's code, at the line where it happens."""

    code: ClassVar[str] = "broadcast-expand"

    def __init__(self) -> None:
        self._ctx: RunContext | None = None
        self._flagged: set[tuple[str, int]] = set()
        self._inline: set[tuple[str, int]] = set()
        """Lines that call a loss module they build (`nn.MSELoss()(pred, y)`): no hook of ours sees it."""

    def subscribe(self, events: Instrument) -> None:
        events.on_operator(self._operator)
        events.on_loss(self._loss)
        events.gate(self._gate)

    # --- which lines need their operators seen ------------------------------------------------------

    def _gate(self, ctx: RunContext, frame: types.FrameType, line: int) -> LineCheck | None:
        """For a line with `+ - * /` between operands that are not numbers: a check, run at each start of
        the line, of whether they may be a column and a vector (read without running anything). A line
        that calls a loss module it builds (`nn.MSELoss()(pred, y)`) is seen until it is flagged."""
        info = line_info(ctx, frame, line)
        if info.explicit_dims or not (info.binops or "Loss" in info.code):
            return None
        try:
            tree = ast.parse(info.code or "")
        except SyntaxError:
            return None
        key = (frame.f_code.co_filename, line)
        flagged = self._flagged
        if _inline_loss(tree):
            self._inline.add(key)

            def unflagged(f: types.FrameType) -> bool:
                return key not in flagged

            return unflagged
        pairs = tuple((_reader(n.left), _reader(n.right)) for n in ast.walk(tree)
                      if isinstance(n, ast.BinOp) and type(n.op) in _SYMBOLS)
        pairs = tuple(p for p in pairs if p[0] is not _CONSTANT and p[1] is not _CONSTANT)
        if not pairs:
            return None

        def check(f: types.FrameType) -> bool:
            if key in flagged:
                return False
            local, global_ = f.f_locals, f.f_globals
            for left, right in pairs:
                a = _UNKNOWN if left is _UNKNOWN else left(local, global_)
                b = _UNKNOWN if right is _UNKNOWN else right(local, global_)
                if a is _CONSTANT or b is _CONSTANT:
                    continue
                if a is _UNKNOWN or b is _UNKNOWN:
                    if (a is _UNKNOWN and b is _UNKNOWN) or _may_pair(b if a is _UNKNOWN else a):
                        return True
                elif _column_and_vector(a, b):
                    return True
            return False

        return check

    # --- events -------------------------------------------------------------------------------------

    def _operator(self, ctx: RunContext, symbol: str, a: torch.Tensor, b: torch.Tensor, out: Any,
                  caller: types.FrameType) -> None:
        if not ctx.is_user_code(caller.f_code) or is_disguise(caller.f_code):
            return  # an operator inside a library
        self._seen(ctx, symbol, a, b, out, caller, direct=True)

    def _loss(self, ctx: RunContext, name: str, a: torch.Tensor, b: torch.Tensor, caller: types.FrameType,
              direct: bool) -> None:
        if direct and not ctx.is_user_code(caller.f_code):
            f = caller.f_back
            while f is not None and (not ctx.is_user_code(f.f_code) or is_disguise(f.f_code)):
                f = f.f_back
            if f is None or (f.f_code.co_filename, f.f_lineno or 0) not in self._inline:
                return  # the functional form called by a loss module: the module's hook saw it
            caller = f  # a loss module built on the user's line: no hook saw it
        self._seen(ctx, name, a, b, None, caller, direct=False)

    def _seen(self, ctx: RunContext, op: str, a: torch.Tensor, b: torch.Tensor, out: Any,
              frame: types.FrameType, direct: bool) -> None:
        pair = _column_and_vector(a, b)
        if pair is None:
            return
        col, vec, col_left = pair
        n = col.shape[0]
        if out is not None and (not is_a(out, torch.Tensor) or tuple(out.shape) != (n, n)):
            return
        line = frame.f_lineno or 0
        key = (frame.f_code.co_filename, line)
        if key in self._flagged:
            return
        info = line_info(ctx, frame, line)
        if info.explicit_dims:
            return
        self._flagged.add(key)
        data = {"col_shape": shape_text(col), "vec_shape": shape_text(vec),
                "out_shape": shapes.shape_text((n, n)), "op": op}
        written = _written(look(ctx, frame, line), op, a, b, loss=not direct)
        if written is not None:
            expr, (a_name, a_named), (b_name, b_named) = written
            col_name, vec_name = (a_name, b_name) if col_left else (b_name, a_name)
            tensors = tuple(name for name, named in ((a_name, a_named), (b_name, b_named)) if named)
        else:  # not found in the source: the names the user's scopes give the tensors
            names = Names(ctx, frame)
            found_col, found_vec = names.get(col), names.get(vec)
            tensors = tuple(name for name in (found_col, found_vec) if name)
            if found_col is None or found_vec is None:
                data |= {"variant": "unnamed", "expr": info.code or op}
                self.flag(ctx, "warning", data, tensors=tensors, line=line)
                return
            col_name, vec_name = found_col, found_vec
            first, second = (col_name, vec_name) if col_left else (vec_name, col_name)
            expr = f"{first} {op} {second}" if direct else f"{op}({first}, {second})"
        data |= {
            "expr": expr,
            "col": col_name,
            "vec": vec_name,
            "vec_fix": f"{vec_name}.unsqueeze(1)",
            "vec_view": f"{vec_name}.view(-1, 1)",
            "col_fix": f"{col_name}.squeeze(1)",
        }
        self.flag(ctx, "warning", data, tensors=tensors, line=line)


# --- the operands as the user wrote them -------------------------------------------------------------------

_METHODS = {"+": "add", "-": "sub", "*": "mul", "/": "div"}
"""The Tensor methods the instrumentation reports as operators (`pred.sub(y)`)."""
_LOSS_MODULES = frozenset({"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"})


def _last_name(node: ast.expr) -> str:
    """`mse_loss` for `F.mse_loss`, `loss_fn` for `loss_fn`; empty for anything else."""
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _inline_loss(tree: ast.AST) -> bool:
    """Whether the code calls a regression loss module it builds on the spot: `nn.MSELoss()(pred, y)`."""
    return any(isinstance(n, ast.Call) and _built_loss(n.func) for n in ast.walk(tree))


def _built_loss(func: ast.expr) -> bool:
    """Whether a call's function is a regression loss module built there: `nn.MSELoss()`."""
    return isinstance(func, ast.Call) and _last_name(func.func) in _LOSS_MODULES


def _candidates(line: Line, op: str, loss: bool) -> list[tuple[ast.expr, ast.expr, str]]:
    """(first operand, second operand, the expression) for each place on the line that may have made the op:
    `a - b` and `a.sub(b)` for an operator; `F.mse_loss(a, b)`, `criterion(a, b)`, `nn.MSELoss()(a, b)`
    for a loss (by keyword too: `input=`, `target=`)."""
    out = []
    for node in line.walk():
        if not loss:
            if isinstance(node, ast.BinOp) and _SYMBOLS.get(type(node.op)) == op:
                out.append((node.left, node.right, _text(line, node)))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and len(node.args) == 1
                  and node.func.attr == _METHODS.get(op)):
                out.append((node.func.value, node.args[0], _text(line, node)))
            continue
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if not (_last_name(f) in LOSS_NAMES or _built_loss(f)
                or is_a(_value(line, f), torch.nn.modules.loss._Loss)):
            continue
        args = dict(zip(("input", "target"), node.args, strict=False))
        args.update((kw.arg, kw.value) for kw in node.keywords if kw.arg in ("input", "target"))
        if len(args) == 2:
            first, second = args["input"], args["target"]
            out.append((first, second, f"{op}({_text(line, first)}, {_text(line, second)})"))
    return out


def _written(line: Line, op: str, a: torch.Tensor, b: torch.Tensor, loss: bool
             ) -> tuple[str, tuple[str, bool], tuple[str, bool]] | None:
    """(the expression, (name of `a`, whether it is a variable), (the same for `b`)) as the line writes
    them: the place on the line whose operands are `a` and `b`, or are expressions that cannot be read
    without running them (`net(X)`); None when the line has no such place."""
    best: tuple[int, tuple[ast.expr, ast.expr, str]] | None = None
    for cand in _candidates(line, op, loss):
        score = 0
        for node, t in ((cand[0], a), (cand[1], b)):
            value = _value(line, node)
            if value is _UNKNOWN:
                continue
            if not _same(value, t):
                break
            score += 1
        else:
            if best is None or score > best[0]:
                best = (score, cand)
    if best is None:
        return None
    first, second, expr = best[1]
    return expr, (line.src(first), _value(line, first) is not _UNKNOWN), \
        (line.src(second), _value(line, second) is not _UNKNOWN)


def _value(line: Line, node: ast.AST) -> Any:
    """The value of a plain chain on the line (read without running anything), else `_UNKNOWN`."""
    frame = line.frame
    if frame is None:
        return _UNKNOWN
    try:
        return resolve_expr(node, frame.f_locals, frame.f_globals)
    except Unresolved:  # a call or arithmetic: known only once it runs
        return _UNKNOWN


def _same(value: Any, t: torch.Tensor) -> bool:
    """Whether `value` is the tensor `t`, or a view with its storage and shape."""
    if value is t:
        return True
    if not is_a(value, torch.Tensor):
        return False
    try:
        return bool(value.data_ptr() == t.data_ptr() and value.shape == t.shape)
    except RuntimeError:  # no storage (meta)
        return False


def _text(line: Line, node: ast.AST) -> str:
    """An expression's source as the user wrote it (as `ast.unparse` writes it over several lines)."""
    text = None
    if line.origin is not None:
        text = ast.get_source_segment(line.origin, node)
    return text if text and "\n" not in text else ast.unparse(node)
