"""`script-error`: any uncaught exception no other check explained (the fallback; stays last)."""

from __future__ import annotations

import ast
import types
from typing import TYPE_CHECKING, ClassVar

import torch

from tensorscope.checks.base import Check
from tensorscope.checks.support.culprits import failing_module, input_name
from tensorscope.checks.support.lines import Line, look
from tensorscope.checks.support.text import describe
from tensorscope.engine.collect import grad_of
from tensorscope.engine.errors import exception_type
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

MAX_MESSAGE = 300
"""Longer exception messages are shortened in the flag (the trace keeps the full text)."""


def _grad_none(line: Line) -> tuple[str, torch.Tensor] | None:
    """In `w.grad.zero_()` or `lr * w.grad`: the tensor `w` whose .grad is None."""
    for node in line.walk():
        if isinstance(node, ast.Attribute) and node.attr == "grad":
            value = line.value(node.value)
            if is_a(value, torch.Tensor) and grad_of(value) is None:
                return line.src(node.value), value
    return None


def _embedding_range(line: Line, exc: BaseException, frame: types.FrameType | None) -> dict[str, str] | None:
    """An embedding looked up with an index past its last row: the indices' name, largest value, rows."""
    failing = failing_module(exc, frame)
    if failing is None or not isinstance(failing[0], torch.nn.Embedding) or not failing[1]:
        return None
    module, (indices, *_) = failing
    if not is_a(indices, torch.Tensor) or indices.numel() == 0:
        return None
    with torch.no_grad(), torch._C.DisableTorchFunction():
        largest = int(indices.max())
    return {"variant": "embedding-range", "name": input_name(line, module, indices),
            "module": line.name_of(module) or "nn.Embedding", "largest": str(largest),
            "rows": str(module.num_embeddings), "last": str(module.num_embeddings - 1),
            "needed": str(largest + 1)}


class ScriptErrorCheck(Check):
    """Explains, as well as it can, an exception no specific check recognised."""

    code: ClassVar[str] = "script-error"

    def on_caught(self, ctx: RunContext, exc: BaseException, frame: types.FrameType, line: int,
                  caught: tuple[int, str]) -> bool:
        """A caught exception is the script's business (KeyError, StopIteration...): no flag."""
        return False

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        if isinstance(exc, SystemExit):
            return False
        view = look(ctx, frame, line)
        message = str(exc)
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        data = {"type": exception_type(exc), "error": message, "code": view.text, "line": str(line)}
        tensors: tuple[str, ...] = ()
        if isinstance(exc, KeyboardInterrupt):
            data["variant"] = "interrupt"
        elif isinstance(exc, IndexError) and "index out of range in self" in message:
            found = _embedding_range(view, exc, frame)
            if found is not None:
                data.update(found)
                tensors = (found["name"],)
        elif isinstance(exc, TypeError | AttributeError) and "NoneType" in message and ".grad" in view.text:
            found = _grad_none(view)
            if found is not None:
                name, tensor = found
                data["name"] = name
                tensors = (name,)
                meta = describe(tensor)
                if meta is not None and not meta.is_leaf:
                    data["variant"] = "grad-none-nonleaf"
                    gf = tensor.grad_fn
                    data["grad_fn"] = gf.name() if gf is not None else "?"
                else:
                    data["variant"] = "grad-none"
        self.flag(ctx, "error", data, tensors=tensors, line=line)
        return True
