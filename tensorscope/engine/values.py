"""Looking at the script's values without running its code, and writing a number as the engine writes them."""

from __future__ import annotations

import math
from typing import Any


def is_a(value: Any, cls: type | tuple[type, ...]) -> bool:
    """`isinstance` by the value's real type: never reads a `__class__` property or calls a metaclass's
    `__instancecheck__` (`nn.Parameter`'s runs `getattr`, and so the script's `__getattr__`)."""
    return issubclass(type(value), cls)


def format_number(x: float | int | bool) -> str:
    """Short, stable formatting of one value: 4 significant digits."""
    if isinstance(x, bool):
        return "True" if x else "False"
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.4g}"
    return "0" if text == "-0" else text
