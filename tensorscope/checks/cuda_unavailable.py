"""`cuda-unavailable`: the script asks for CUDA on a machine (or a PyTorch build) without it."""

from __future__ import annotations

import ast
import re
import types
from typing import TYPE_CHECKING, ClassVar

from tensorscope.checks.base import Check
from tensorscope.checks.naming import Line, call_receiver, look

if TYPE_CHECKING:
    from tensorscope.engine.session import Session

_TEXTS = re.compile(
    "|".join([
        r"Torch not compiled with CUDA enabled",
        r"Found no NVIDIA driver on your system",
        r"No CUDA GPUs are available",
        r"CUDA driver initialization failed",
        r"no CUDA-capable device is detected",
        r"NVIDIA driver on your system is too old",
        r"on a CUDA device but torch\.cuda\.is_available\(\) is False",
        r"has no attribute '_cuda_\w+'",
        r"Cannot access accelerator device when none is available",
    ])
)


def _mentions_cuda(node: ast.AST) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("cuda"):
            return True
    return False


def cuda_request(line: Line) -> tuple[str, str | None]:
    """(the call that asks for CUDA as written, the tensor/module it moves) found on the line."""
    fallback: tuple[str, str | None] | None = None
    for node in line.walk():
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        receiver = call_receiver(node) if isinstance(f, ast.Attribute) else None
        if name == "cuda" and isinstance(f, ast.Attribute) and not (
            isinstance(f.value, ast.Name) and f.value.id == "torch"
        ):
            return line.src(node), line.src(receiver)
        if name == "to" and any(_mentions_cuda(a) for a in [*node.args, *node.keywords]):
            return line.src(node), line.src(receiver)
        if any(k.arg == "device" and _mentions_cuda(k.value) for k in node.keywords):
            return line.src(node), None
        if name == "device" and _mentions_cuda(node):
            fallback = fallback or (line.src(node), None)
        if name in ("to", "cuda", "pin_memory", "load", "set_device") and fallback is None:
            fallback = (line.src(node), line.src(receiver) if name in ("to", "cuda") else None)
    if fallback is not None:
        return fallback
    return line.text, None


class CudaUnavailable(Check):
    """Explains a CUDA request on a machine without CUDA; suggests is_available() and --simulate-cuda."""

    code: ClassVar[str] = "cuda-unavailable"

    def on_exception(self, ctx: Session, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        if not isinstance(exc, RuntimeError | AssertionError | AttributeError | ValueError):
            return False
        if not _TEXTS.search(str(exc)):
            return False
        view = look(ctx, frame, line)
        call, moved = cuda_request(view)
        data = {"call": call, "code": view.text}
        tensors = (moved,) if moved and moved != "?" else ()
        self.flag(ctx, "error", data, tensors=tensors, line=line)
        return True
