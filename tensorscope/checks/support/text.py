"""What messages say about the user's tensors and code: shapes, values, devices, a statement as a line."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from tensorscope import shapes
from tensorscope.checks.support.source import parse_line, strip_comment
from tensorscope.engine.collect import dtype_name, format_number
from tensorscope.engine.simcuda import simulated_device
from tensorscope.engine.values import is_a

__all__ = [
    "TensorMeta",
    "code_text",
    "describe",
    "device_of",
    "expr_text",
    "join_names",
    "shape_text",
    "value_text",
]


def shape_text(shape: torch.Tensor | Iterable[int]) -> str:
    """A shape, or a tensor's, in tensorscope's one notation: `8×1`, `8`, `()` (tensorscope/shapes.py)."""
    return shapes.shape_text(shape.shape if is_a(shape, torch.Tensor) else shape)  # type: ignore[union-attr]


@dataclass(frozen=True)
class TensorMeta:
    """What a message says about one tensor: shape, dtype, device."""

    shape: tuple[int, ...]
    dtype: str
    """Short dtype name: `float32`, `int64`."""
    device: str
    """`cpu`, `cuda:0` (the simulated device under --simulate-cuda)."""
    requires_grad: bool
    is_leaf: bool
    has_grad_fn: bool

    @property
    def shape_text(self) -> str:
        """`8×3`, or `()` for a scalar."""
        return shape_text(self.shape)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def device_of(t: torch.Tensor) -> str:
    """The tensor's device as the script sees it (a simulated `cuda:0` under --simulate-cuda)."""
    try:
        return str(simulated_device(t))
    except Exception:
        return "?"


def describe(t: Any) -> TensorMeta | None:
    """Metadata of a tensor (None for anything else); never raises, never reads values."""
    if not is_a(t, torch.Tensor):
        return None
    try:
        device = device_of(t)
        with torch._C.DisableTorchFunction():
            return TensorMeta(
                shape=tuple(int(d) for d in t.shape),
                dtype=dtype_name(t.dtype),
                device=device,
                requires_grad=bool(t.requires_grad),
                is_leaf=bool(t.is_leaf),
                has_grad_fn=t.grad_fn is not None,
            )
    except Exception:
        return None


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


def join_names(names: list[str], most: int = 3) -> str:
    """`w, b` or `a, b, c (+2)`: a few names, the rest counted."""
    shown = names[:most]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")


def expr_text(node: ast.AST | None) -> str:
    """Source text of an expression, parenthesised when it is more than a name, call or subscript."""
    if node is None:
        return "?"
    try:
        text = ast.unparse(node)
    except Exception:
        return "?"
    if isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Call | ast.Constant):
        return text
    return f"({text})"


def code_text(text: str) -> str:
    """A source line as a short statement for a message: stripped, without its comment."""
    stmt = parse_line(text)
    if stmt is not None and not isinstance(stmt, ast.For | ast.While | ast.If | ast.With | ast.FunctionDef):
        try:
            return ast.unparse(stmt)
        except (ValueError, RecursionError):
            pass
    return strip_comment(text).strip()
