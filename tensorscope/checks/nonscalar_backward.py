"""`nonscalar-backward`: backward() on a tensor with more than one element and no `gradient` argument."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, ClassVar

from tensorscope.checks.base import Check
from tensorscope.checks.culprits import backward_target
from tensorscope.checks.naming import describe, look

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

_TEXT = "grad can be implicitly created only for scalar outputs"


class NonscalarBackward(Check):
    """Names the non-scalar tensor backward() was called on, with its shape."""

    code: ClassVar[str] = "nonscalar-backward"

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        if not isinstance(exc, RuntimeError) or _TEXT not in str(exc):
            return False
        view = look(ctx, frame, line)
        name, tensor = backward_target(exc, frame, view)
        meta = describe(tensor)
        data = {
            "name": name,
            "shape": meta.shape_text if meta else "?",
            "numel": str(meta.numel) if meta else "?",
            "code": view.text,
        }
        self.flag(ctx, "error", data, tensors=(name,), line=line)
        return True
