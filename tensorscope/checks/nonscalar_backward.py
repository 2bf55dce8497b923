"""`nonscalar-backward`: backward() on a tensor with more than one element and no `gradient` argument."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tensorscope.checks.base import BackwardErrorCheck
from tensorscope.checks.support.text import describe

if TYPE_CHECKING:
    from tensorscope.checks.support.culprits import FailedBackward
    from tensorscope.engine.context import RunContext

_TEXT = "grad can be implicitly created only for scalar outputs"


class NonscalarBackward(BackwardErrorCheck):
    """Names the non-scalar tensor backward() was called on, with its shape."""

    code: ClassVar[str] = "nonscalar-backward"
    text = _TEXT

    def explain(self, ctx: RunContext, failed: FailedBackward) -> bool:
        meta = describe(failed.tensor)
        data = {**failed.data(), "shape": meta.shape_text if meta else "?",
                "numel": str(meta.numel) if meta else "?"}
        self.flag(ctx, "error", data, tensors=(failed.name,), line=failed.line)
        return True
