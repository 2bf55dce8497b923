"""The one way tensorscope writes a tensor's shape, everywhere: table, narration, trace, explanations.

The sizes joined by `×`, as people write a matrix's size: `4×1` is a 4-by-1 matrix (`torch.Size([4, 1])`),
`4×1×28×28` a batch of images, `3` a vector of 3 values (`torch.Size([3])`), `1` a vector holding one
value (`torch.Size([1])`), and `()` a scalar, a 0-dimensional tensor (`torch.Size([])`, what `.mean()`
returns). `1` and `()` are different tensors and never written alike. This module imports only the
standard library (the engine, the checks and the UI all use it).
"""

from __future__ import annotations

from collections.abc import Iterable

SCALAR = "()"
"""A 0-dimensional tensor's shape (torch.Size([]))."""


def shape_text(shape: Iterable[int]) -> str:
    """`4×1`, `3` (a vector), `1` (a vector of one value), `()` (a scalar)."""
    dims = tuple(int(d) for d in shape)
    return SCALAR if not dims else "×".join(str(d) for d in dims)
