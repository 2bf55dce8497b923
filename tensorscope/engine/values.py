"""Looking at the script's values without running its code."""

from __future__ import annotations

from typing import Any


def is_a(value: Any, cls: type | tuple[type, ...]) -> bool:
    """`isinstance` by the value's real type: never reads a `__class__` property or calls a metaclass's
    `__instancecheck__` (`nn.Parameter`'s runs `getattr`, and so the script's `__getattr__`)."""
    return issubclass(type(value), cls)
