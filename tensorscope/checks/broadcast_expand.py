"""`broadcast-expand`: a column (N, 1) meets a vector (N,) and silently broadcasts to (N, N).

Takes the instrumentation layer's operator events (`+ - * /`) on the lines whose operands may be a column
and a vector (read before the line runs, without running anything), and its regression-loss events
(`mse_loss`, `l1_loss`, ... as functions or modules): a few shape comparisons each, nothing more.
Operators run inside libraries are ignored, and so are lines that insert dimensions on purpose
(`[:, None]`, `unsqueeze`, `einsum`, `outer`): those are deliberate outer products.
"""

from __future__ import annotations

import ast
import types
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks._source import Names, dotted, line_info, shape_text
from tensorscope.checks.base import Check
from tensorscope.engine.instrument import Instrument, LineCheck, Subscriber, is_disguise, static_value
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.session import Session

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
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
            if not (value.is_leaf or value.retains_grad):
                return _UNKNOWN
            g = value.grad
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
        self._ctx: Session | None = None
        self._flagged: set[tuple[str, int]] = set()

    def subscribe(self, events: Instrument) -> None:
        events.on_operator(self._operator)
        events.on_loss(self._loss)
        events.gate(self._gate)

    # --- which lines need their operators seen ------------------------------------------------------

    def _gate(self, ctx: Session, frame: types.FrameType, line: int) -> LineCheck | None:
        """For a line with `+ - * /` between operands that are not numbers: a check, run at each start of
        the line, of whether they may be a column and a vector (read without running anything)."""
        info = line_info(ctx, frame, line)
        if not info.binops or info.explicit_dims:
            return None
        try:
            tree = ast.parse(info.code or "")
        except SyntaxError:
            return None
        pairs = tuple((_reader(n.left), _reader(n.right)) for n in ast.walk(tree)
                      if isinstance(n, ast.BinOp) and type(n.op) in _BINOPS)
        pairs = tuple(p for p in pairs if p[0] is not _CONSTANT and p[1] is not _CONSTANT)
        if not pairs:
            return None
        key = (frame.f_code.co_filename, line)
        flagged = self._flagged

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

    def _operator(self, ctx: Session, symbol: str, a: torch.Tensor, b: torch.Tensor, out: Any,
                  caller: types.FrameType) -> None:
        if not ctx.is_user_code(caller.f_code) or is_disguise(caller.f_code):
            return  # an operator inside a library
        self._seen(ctx, symbol, a, b, out, caller, direct=True)

    def _loss(self, ctx: Session, name: str, a: torch.Tensor, b: torch.Tensor, caller: types.FrameType,
              direct: bool) -> None:
        if direct and not ctx.is_user_code(caller.f_code):
            return  # the functional form called by a loss module: the module's hook saw it
        self._seen(ctx, name, a, b, None, caller, direct=False)

    def _seen(self, ctx: Session, op: str, a: torch.Tensor, b: torch.Tensor, out: Any,
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
        names = Names(ctx, frame)
        col_name, vec_name = names.get(col), names.get(vec)
        if direct:
            texts = next(((lt, rt) for sym, lt, rt in info.binops if sym == op), None)
            if texts is not None:
                left, right = texts
                col_name = col_name or (left if col_left else right)
                vec_name = vec_name or (right if col_left else left)
            col_name = col_name or "a column"
            vec_name = vec_name or "a vector"
            expr = f"{col_name} {op} {vec_name}" if col_left else f"{vec_name} {op} {col_name}"
            if texts is not None:
                expr = f"{texts[0]} {op} {texts[1]}"
        else:
            col_name = col_name or "input"
            vec_name = vec_name or "target"
            first, second = (col_name, vec_name) if col_left else (vec_name, col_name)
            expr = f"{op}({first}, {second})"
        data = {
            "expr": expr,
            "col": col_name,
            "col_shape": shape_text(col),
            "vec": vec_name,
            "vec_shape": shape_text(vec),
            "out_shape": str((n, n)),
            "op": op,
        }
        self.flag(ctx, "warning", data, (col_name, vec_name), line=line)
