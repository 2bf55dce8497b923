"""`broadcast-expand`: a column (N, 1) meets a vector (N,) and silently broadcasts to (N, N).

Watches the arithmetic operators of tensors (`+ - * /`) and the regression losses (`mse_loss`,
`l1_loss`, ...) in the script's thread only: after each operator a few shape comparisons, nothing more.
Operators run inside libraries are ignored, and so are lines that insert dimensions on purpose
(`[:, None]`, `unsqueeze`, `einsum`, `outer`): those are deliberate outer products.
"""

from __future__ import annotations

import os
import sys
import types
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks._autograd_watch import intercept
from tensorscope.checks._source import Names, line_info, shape_text
from tensorscope.checks.base import Check

if TYPE_CHECKING:
    from tensorscope.engine.session import Session

_OPERATORS = {"__add__": "+", "__sub__": "-", "__mul__": "*", "__truediv__": "/"}
_LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")
_OURS = os.path.dirname(os.path.abspath(__file__))


def _column_and_vector(a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor, bool] | None:
    """(column, vector, column is the left operand) when `a` and `b` are an (N, 1) and an (N,), N > 1."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
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


class BroadcastExpand(Check):
    """Flags (N, 1) against (N,) arithmetic in the user's code, at the line where it happens."""

    code: ClassVar[str] = "broadcast-expand"

    def __init__(self) -> None:
        self._ctx: Session | None = None
        self._flagged: set[tuple[str, int]] = set()

    def activate(self, ctx: Session) -> AbstractContextManager[Any] | None:
        self._ctx = ctx
        stack = ExitStack()
        try:
            for name, symbol in _OPERATORS.items():
                stack.enter_context(intercept(torch.Tensor, name, self._operator(symbol)))
            for name in _LOSSES:
                stack.enter_context(intercept(torch.nn.functional, name, self._loss(name)))
        except Exception:
            stack.close()
            raise
        return stack

    def _operator(self, symbol: str) -> Any:
        def handler(call: Any, a: Any, b: Any, *rest: Any, **kwargs: Any) -> Any:
            out = call(a, b, *rest, **kwargs)
            if isinstance(b, torch.Tensor):
                try:
                    if a.ndim + b.ndim == 3:
                        self._seen(symbol, a, b, out, direct=True)
                except Exception:
                    pass
            return out

        return handler

    def _loss(self, name: str) -> Any:
        def handler(call: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                a = args[0] if args else kwargs.get("input")
                b = args[1] if len(args) > 1 else kwargs.get("target")
                if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.ndim + b.ndim == 3:
                    self._seen(name, a, b, None, direct=False)
            except Exception:
                pass
            return call(*args, **kwargs)

        return handler

    def _seen(self, op: str, a: torch.Tensor, b: torch.Tensor, out: Any, direct: bool) -> None:
        pair = _column_and_vector(a, b)
        ctx = self._ctx
        if pair is None or ctx is None:
            return
        col, vec, col_left = pair
        n = col.shape[0]
        if out is not None and (not isinstance(out, torch.Tensor) or tuple(out.shape) != (n, n)):
            return
        frame = self._user_caller(ctx, direct)
        if frame is None:
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

    def _user_caller(self, ctx: Session, direct: bool) -> types.FrameType | None:
        """The user's frame that made this call: the direct caller for operators, any caller for losses."""
        f: types.FrameType | None = sys._getframe(2)
        while f is not None and os.path.dirname(f.f_code.co_filename) == _OURS:
            f = f.f_back
        if f is None:
            return None
        if direct:
            return f if ctx.is_user_code(f.f_code) else None
        while f is not None and not ctx.is_user_code(f.f_code):
            f = f.f_back
        return f
