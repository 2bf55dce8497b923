"""Reading values from the user's frame without running any of the script's code.

Two readers, for two kinds of question: `resolve_expr` evaluates an expression node of the source (a name,
an attribute chain `model.fc.weight`, a constant index `batch[0]`, `state["h"]`, `model[0]`) and raises
`Unresolved` for anything else; `lookup` reads a dotted name (`self.h`) the way the engine's instrumentation
does and answers None when it cannot. Neither calls a function, a property or a `__getattr__`.
"""

from __future__ import annotations

import ast
import inspect
import types
from collections.abc import Mapping
from typing import Any

import torch

from tensorscope.engine.instrument import static_value
from tensorscope.engine.values import is_a

__all__ = ["Unresolved", "instance_dict", "lookup", "resolve_expr"]

_TENSOR_ATTRS = frozenset({"grad", "data", "T", "mT"})
_MISSING = object()


class Unresolved(Exception):
    """The expression is not a plain name/attribute/index chain, or its value is not reachable safely."""


def lookup(frame: types.FrameType, name: str, local: Any = None) -> Any:
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


def _index_value(node: ast.expr, scope: Mapping[str, Any]) -> int | str:
    if isinstance(node, ast.Constant) and type(node.value) in (int, str):
        return node.value  # type: ignore[no-any-return]
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
        return -node.operand.value
    if isinstance(node, ast.Name):
        value = scope.get(node.id, _MISSING)
        if type(value) in (int, str):
            return value  # type: ignore[no-any-return]
    raise Unresolved(ast.dump(node))


def _module_attr(module: torch.nn.Module, attr: str) -> Any:
    d = object.__getattribute__(module, "__dict__")
    for table in ("_parameters", "_buffers", "_modules"):
        entries = d.get(table)
        if entries is not None and attr in entries:
            return entries[attr]
    if attr in d:
        return d[attr]
    return _static_attr(module, attr)


def _static_attr(obj: Any, attr: str) -> Any:
    try:
        value = inspect.getattr_static(obj, attr)
    except AttributeError:
        raise Unresolved(attr) from None
    if isinstance(value, types.MemberDescriptorType):  # __slots__ entry: a plain read
        try:
            return value.__get__(obj, type(obj))
        except AttributeError:
            raise Unresolved(attr) from None
    if isinstance(value, property | staticmethod | classmethod | types.FunctionType) or (
        hasattr(type(value), "__get__") and not isinstance(obj, types.ModuleType | type)
    ):
        raise Unresolved(attr)  # would run code
    return value


def _tensor_attr(t: torch.Tensor, attr: str) -> Any:
    if attr not in _TENSOR_ATTRS:
        raise Unresolved(attr)
    with torch._C.DisableTorchFunction():
        if attr == "grad":
            if not (t.is_leaf or t.retains_grad):
                raise Unresolved(attr)  # PyTorch would warn, and its .grad is None anyway
            g = t.grad
            if g is None:
                raise Unresolved(attr)
            return g
        if attr == "data":
            return t.data
        if attr == "T" and t.dim() == 2:
            return t.T
        if attr == "mT" and t.dim() >= 2:
            return t.mT
    raise Unresolved(attr)


def resolve_expr(node: ast.AST, local: Mapping[str, Any], global_: Mapping[str, Any] | None = None) -> Any:
    """The value of a name/attribute/index chain, read without running any of the user's code.

    Raises `Unresolved` for anything else (calls, arithmetic, properties, tensor indexing).
    """
    if isinstance(node, ast.Name):
        for scope in (local, global_ or {}):
            if node.id in scope:
                return scope[node.id]
        raise Unresolved(node.id)
    if isinstance(node, ast.Attribute):
        base = resolve_expr(node.value, local, global_)
        if is_a(base, torch.Tensor):
            return _tensor_attr(base, node.attr)
        if is_a(base, torch.nn.Module):
            return _module_attr(base, node.attr)
        return _static_attr(base, node.attr)
    if isinstance(node, ast.Subscript):
        base = resolve_expr(node.value, local, global_)
        key = _index_value(node.slice, {**(global_ or {}), **local})
        try:
            if type(base) in (list, tuple) and type(key) is int:
                return base[key]
            if type(base) is dict:
                return base[key]
            if isinstance(base, torch.nn.Sequential | torch.nn.ModuleList) and type(key) is int:
                return list(object.__getattribute__(base, "_modules").values())[key]
            if isinstance(base, torch.nn.ModuleDict) and type(key) is str:
                return object.__getattribute__(base, "_modules")[key]
        except (IndexError, KeyError):
            raise Unresolved(ast.dump(node)) from None
        raise Unresolved(ast.dump(node))
    raise Unresolved(type(node).__name__)
