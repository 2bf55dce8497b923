"""Reading the user's lines and values without running any of the script's code: the receiver of a plain
`name.backward()`, the names a line calls, a dotted name's value (no property, no `__getattr__`)."""

from __future__ import annotations

import ast
import types
from typing import Any

import torch

from tensorscope.engine.values import is_a


def plain_backward(code: str) -> str | None:
    """`loss` for a statement that is exactly `loss.backward()` (a dotted name, no arguments), else None."""
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "backward" and not call.args and not call.keywords):
        return None
    parts: list[str] = []
    node: ast.expr = call.func.value
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def called_names(code: str) -> list[str]:
    """The dotted names a line calls (`criterion`, `self.loss_fn`)."""
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts: list[str] = []
            f: ast.expr = node.func
            while isinstance(f, ast.Attribute):
                parts.append(f.attr)
                f = f.value
            if isinstance(f, ast.Name):
                parts.append(f.id)
                names.append(".".join(reversed(parts)))
    return names


def stored_grad(t: torch.Tensor) -> torch.Tensor | None:
    """`.grad` of a leaf or a tensor that retains grad; None for others (never read: PyTorch would warn)."""
    if not (t.is_leaf or t.retains_grad):
        return None
    g = t.grad
    return g if is_a(g, torch.Tensor) else None


def static_grad(name: str, local: Any, global_: dict[str, Any]) -> torch.Tensor | None:
    """`stored_grad` of the tensor a dotted name reaches, read without running code; LookupError when the
    name cannot be read so or reaches no tensor."""
    value = static_value(name, local, global_)
    if not is_a(value, torch.Tensor):
        raise LookupError(name)
    return stored_grad(value)


def static_value(name: str, local: Any, global_: dict[str, Any]) -> Any:
    """The value of a dotted name read without running any code (instance dicts, module tables);
    LookupError when that is not possible (a property, `__getattr__`, a missing name)."""
    first, *rest = name.split(".")
    if first in local:
        value = local[first]
    elif first in global_:
        value = global_[first]
    else:
        raise LookupError(first)
    for attr in rest:
        if is_a(value, torch.nn.Module):
            d = object.__getattribute__(value, "__dict__")
            for table in ("_parameters", "_buffers", "_modules"):
                entries = d.get(table)
                if entries is not None and attr in entries:
                    value = entries[attr]
                    break
            else:
                if attr not in d:
                    raise LookupError(attr)
                value = d[attr]
        elif isinstance(value, types.ModuleType):
            value = object.__getattribute__(value, "__dict__")[attr]
        else:
            if is_a(value, torch.Tensor) or hasattr(type(value), "__getattr__"):
                raise LookupError(attr)
            try:
                d = object.__getattribute__(value, "__dict__")
            except AttributeError:
                raise LookupError(attr) from None
            descriptor = next((k.__dict__[attr] for k in type(value).__mro__ if attr in k.__dict__), None)
            if attr not in d or (descriptor is not None and hasattr(type(descriptor), "__set__")):
                raise LookupError(attr)
            value = d[attr]
    return value
