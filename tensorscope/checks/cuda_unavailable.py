"""`cuda-unavailable`: the script asks for CUDA on a machine (or a PyTorch build) without it."""

from __future__ import annotations

import ast
import re
import shlex
import types
from typing import TYPE_CHECKING, ClassVar

from tensorscope.checks.base import Check
from tensorscope.checks.support.culprits import frames_after
from tensorscope.checks.support.lines import Line, call_receiver, look

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

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


_CHAIN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_DEVICE_FILE = re.compile(r"torch[/\\]utils[/\\]_device\.py$")
"""Where PyTorch's default-device mode (`DeviceContext`) lives."""


def bound_name(line: Line) -> str | None:
    """The one name (or attribute) the statement assigns: `model` in `model = nn.Linear(3, 1).cuda()`."""
    for node in line.parts:
        target: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        if isinstance(target, ast.Name | ast.Attribute):
            text = line.src(target)
            return text if _CHAIN.fullmatch(text) else None
    return None


def moved_name(line: Line, receiver: str | None) -> str | None:
    """The script's name for what the CUDA request moves or makes: the receiver when it is a name
    (`x.cuda()`), else the name the statement binds (`model = nn.Linear(3, 1).cuda()`)."""
    if receiver and _CHAIN.fullmatch(receiver):
        return receiver
    return bound_name(line)


def default_device(exc: BaseException, frame: types.FrameType | None) -> str | None:
    """The default device PyTorch gave the failing factory (`torch.set_default_device`,
    `with torch.device(...)`), when that is where the CUDA request came from."""
    for f in frames_after(exc, frame):
        code = f.f_code
        if code.co_name == "__torch_function__" and _DEVICE_FILE.search(code.co_filename):
            device = getattr(f.f_locals.get("self"), "device", None)
            if device is not None:
                return str(device)
    return None


def _outer_call(line: Line) -> str | None:
    for node in line.walk():
        if isinstance(node, ast.Call):
            return line.src(node)
    return None


class CudaUnavailable(Check):
    """Explains a CUDA request on a machine without CUDA; suggests is_available() and, unless this run
    already simulates CUDA, --simulate-cuda with the script's own name."""

    code: ClassVar[str] = "cuda-unavailable"
    explains = (RuntimeError, AssertionError, AttributeError, ValueError)

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        if not _TEXTS.search(str(exc)):
            return False
        view = look(ctx, frame, line)
        call, receiver = cuda_request(view)
        data = {"call": call, "code": view.text, "script": shlex.quote(ctx.display)}
        device = default_device(exc, frame)
        if device is not None:
            data.update(variant="default-device", device=device)
        if ctx.simulate_cuda:  # never suggest the option this run already has
            data["variant"] = "simulated"
        asked = call != view.text or device is not None  # a call that makes or moves tensors on CUDA
        if call == view.text and "variant" in data:
            data["call"] = _outer_call(view) or call
        moved = moved_name(view, receiver) if asked else None
        tensors = (moved,) if moved else ()
        self.flag(ctx, "error", data, tensors=tensors, line=line)
        return True
