"""`nonscalar-backward`: backward() on a tensor with more than one element and no `gradient` argument."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, ClassVar

import torch

from tensorscope.checks.base import BackwardErrorCheck
from tensorscope.checks.support.text import describe

if TYPE_CHECKING:
    from tensorscope.checks.support.lines import Line
    from tensorscope.engine.context import RunContext

_TEXT = "grad can be implicitly created only for scalar outputs"


class NonscalarBackward(BackwardErrorCheck):
    """Names the non-scalar tensor backward() was called on, with its shape."""

    code: ClassVar[str] = "nonscalar-backward"
    text = _TEXT

    def explain(self, ctx: RunContext, frame: types.FrameType | None, line: int, view: Line, name: str,
                tensor: torch.Tensor | None) -> bool:
        meta = describe(tensor)
        data = {
            "name": name,
            "shape": meta.shape_text if meta else "?",
            "numel": str(meta.numel) if meta else "?",
            "code": view.text,
        }
        self.flag(ctx, "error", data, tensors=(name,), line=line)
        return True
