"""Which of the user's tensors a PyTorch error was about: the failing layer and its input, a loss's
input and target, the tensor backward() was called on, the operands of a failed operation.

Reads the frames of the traceback below the user's line (torch's own `forward`, `cross_entropy`,
`backward`) and names what it finds with the user's names (`lines.Line.name_of`).
"""

from __future__ import annotations

import ast
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from tensorscope.checks.support.graph import walk_graph
from tensorscope.checks.support.lines import Line, call_receiver, calls_named, look
from tensorscope.checks.support.text import TensorMeta, describe
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

__all__ = [
    "Operand",
    "backward_target",
    "failed_backward",
    "failing_module",
    "first_parameter",
    "frames_after",
    "graph_nodes",
    "innermost_local",
    "input_name",
    "involved",
    "loss_call",
    "loss_parts",
    "torch_dtype",
]

_LOSS_NAMES = ("cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
               "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div")


def first_parameter(module: torch.nn.Module) -> tuple[str, torch.Tensor] | None:
    """The module's first parameter (name relative to the module, tensor), e.g. ('0.weight', w)."""
    try:
        for name, p in module.named_parameters():
            return name, p
    except Exception:
        return None
    return None


# --- inside torch: which layer failed --------------------------------------------------------------------

def frames_after(exc: BaseException, frame: types.FrameType | None) -> list[types.FrameType]:
    """The frames of the traceback deeper than the user's `frame` (torch's own), outermost first."""
    frames: list[types.FrameType] = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    if frame is None:
        return frames
    for i in range(len(frames) - 1, -1, -1):
        if frames[i] is frame:
            return frames[i + 1:]
    return []


def failing_module(exc: BaseException, frame: types.FrameType | None
                   ) -> tuple[torch.nn.Module, tuple[Any, ...]] | None:
    """The innermost nn.Module whose forward raised `exc` below the user's frame, and its inputs."""
    for f in reversed(frames_after(exc, frame)):
        try:
            local = f.f_locals
        except Exception:
            continue
        module = local.get("self")
        if is_a(module, torch.nn.Module) and f.f_code.co_name in ("forward", "_conv_forward"):
            code = f.f_code
            names = code.co_varnames[1:code.co_argcount]
            return module, tuple(local.get(n) for n in names)
    return None


def innermost_local(exc: BaseException, frame: types.FrameType | None, name: str,
                    functions: Iterable[str] | None = None) -> Any:
    """A local variable of the innermost torch frame (optionally of the given functions) that has it."""
    wanted = set(functions) if functions is not None else None
    for f in reversed(frames_after(exc, frame)):
        if wanted is not None and f.f_code.co_name not in wanted:
            continue
        try:
            local = f.f_locals
        except Exception:
            continue
        if name in local:
            return local[name]
    return None



# --- small helpers for explaining PyTorch's own errors ---------------------------------------------------

_TORCH_DTYPES = {
    "double": "float64", "float": "float32", "half": "float16", "bfloat16": "bfloat16",
    "c10::half": "float16", "c10::bfloat16": "bfloat16", "long": "int64", "long int": "int64",
    "int": "int32", "short": "int16", "char": "int8", "byte": "uint8", "bool": "bool",
    "complexfloat": "complex64", "complexdouble": "complex128",
}


def torch_dtype(text: str) -> str:
    """PyTorch's C++ scalar-type names in error messages as Python dtype names: `Double` -> `float64`."""
    t = text.strip().rsplit(".", 1)[-1]  # `torch.cuda.DoubleTensor` -> `DoubleTensor`
    key = t.lower().removesuffix("tensor")
    if key in _TORCH_DTYPES:
        return _TORCH_DTYPES[key]
    return t


def backward_target(exc: BaseException, frame: types.FrameType | None, line: Line
                    ) -> tuple[str, torch.Tensor | None]:
    """The tensor a failing backward()/autograd call was about, and how the user wrote it."""
    tensor: Any = innermost_local(exc, frame, "out", {"_make_grads"})
    if not is_a(tensor, torch.Tensor):
        tensor = innermost_local(exc, frame, "self", {"backward"})
    if not is_a(tensor, torch.Tensor):
        for var, fn in (("tensors", "backward"), ("outputs", "grad")):
            value = innermost_local(exc, frame, var, {fn})
            if is_a(value, torch.Tensor):
                tensor = value
                break
            if isinstance(value, list | tuple) and value and is_a(value[0], torch.Tensor):
                tensor = value[0]
                break
    name = line.name_of(tensor) if is_a(tensor, torch.Tensor) else None
    if name is None:
        calls = calls_named(line, ("backward", "grad"))
        if calls:
            receiver = call_receiver(calls[0])
            if isinstance(receiver, ast.List | ast.Tuple) and receiver.elts:
                receiver = receiver.elts[0]
            name = line.src(receiver)
    return name or "the tensor", tensor if is_a(tensor, torch.Tensor) else None


@dataclass(frozen=True)
class FailedBackward:
    """A backward() that raised: where, the statement, and the tensor it was called on."""

    frame: types.FrameType | None
    line: int
    view: Line
    name: str
    """The user's name for `tensor`, or a description of it."""
    tensor: torch.Tensor | None = field(compare=False, repr=False)

    def data(self) -> dict[str, str]:
        """What every explanation of it is filled with: the tensor's name and the statement."""
        return {"name": self.name, "code": self.view.text}


def failed_backward(ctx: RunContext, exc: BaseException, frame: types.FrameType | None, line: int,
                    text: str | re.Pattern[str]) -> FailedBackward | None:
    """For an exception whose message holds `text` (a string) or matches it (a pattern): the backward() call
    that raised it; None otherwise. (Only RuntimeErrors get here: `BackwardErrorCheck.explains`.)"""
    message = str(exc)
    if (text not in message) if isinstance(text, str) else not text.search(message):
        return None
    view = look(ctx, frame, line)
    return FailedBackward(frame, line, view, *backward_target(exc, frame, view))


def graph_nodes(t: torch.Tensor | None, limit: int = 20000) -> set[int]:
    """ids of the autograd nodes reachable from `t.grad_fn` (bounded walk)."""
    fn = t.grad_fn if is_a(t, torch.Tensor) else None
    return {id(node) for node in walk_graph([fn], limit)}


@dataclass(frozen=True)
class Operand:
    """A tensor involved in a failing operation, under the user's name for it."""

    name: str
    tensor: torch.Tensor = field(compare=False, repr=False)
    is_parameter: bool = False
    """A parameter or buffer of a module (convert the data, not the model)."""

    @property
    def meta(self) -> TensorMeta | None:
        return describe(self.tensor)


def input_name(line: Line, module: torch.nn.Module, value: Any) -> str:
    """The user's name for the input a (sub)module received: `x`, or `model[:2](x)` inside a Sequential."""
    named = line.name_of(value) if is_a(value, torch.Tensor) else None
    if named:
        return named
    for ref in line.modules():
        seq = ref.value
        if not isinstance(seq, torch.nn.Sequential):
            continue
        children = list(object.__getattribute__(seq, "_modules").values())
        for i, child in enumerate(children):
            if child is module or any(m is module for m in child.modules()):
                if i == 0:
                    break
                for node in line.walk():
                    if isinstance(node, ast.Call) and node.args and line.value(node.func) is seq:
                        return f"{ref.text}[:{i}]({ast.unparse(node.args[0])})"
                break
    return "input"


def involved(line: Line, exc: BaseException, frame: types.FrameType | None) -> list[Operand]:
    """The tensors a failing operation used, named as the user would, the likeliest culprits first:
    the failing layer's inputs and parameters, a loss's input and target, the tensors written on the
    line, then the first parameter of each module called on the line."""
    out: list[Operand] = []
    seen: set[int] = set()

    def add(name: str | None, t: Any, is_param: bool = False) -> None:
        if name and is_a(t, torch.Tensor) and id(t) not in seen:
            seen.add(id(t))
            out.append(Operand(name, t, is_param))

    failing = failing_module(exc, frame)
    if failing is not None:
        module, inputs = failing
        mname = line.name_of(module) or type(module).__name__
        for value in inputs:
            if is_a(value, torch.Tensor):
                add(input_name(line, module, value), value)
        try:
            for pname, p in module.named_parameters(recurse=False):
                add(f"{mname}.{pname}", p, True)
        except Exception:
            pass
    for var in ("input", "target"):
        value = innermost_local(exc, frame, var, _LOSS_NAMES)
        if is_a(value, torch.Tensor):
            add(line.name_of(value) or var, value)
    for ref in line.tensors():
        add(ref.text, ref.value, is_a(ref.value, torch.nn.Parameter))
    for ref in line.modules():
        first = first_parameter(ref.value)
        if first is not None:
            add(f"{ref.text}.{first[0]}", first[1], True)
    return out


def loss_call(line: Line, module: torch.nn.Module | None = None) -> ast.Call | None:
    """The call of a loss on the line: `criterion(out, y)`, `F.cross_entropy(...)`, `nn.MSELoss()(...)`."""
    for node in line.walk():
        if not isinstance(node, ast.Call) or len(node.args) + len(node.keywords) < 2:
            continue
        f = node.func
        if module is not None and line.value(f) is module:
            return node
        last = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if last in _LOSS_NAMES:
            return node
        if isinstance(f, ast.Call):
            inner = f.func
            ctor = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", "")
            if ctor.endswith("Loss"):
                return node
    return None


def loss_parts(line: Line, exc: BaseException, frame: types.FrameType | None
               ) -> tuple[str, tuple[str, Any], tuple[str, Any]]:
    """(loss name, (input name, input), (target name, target)) of a failing loss call."""
    value = innermost_local(exc, frame, "input", _LOSS_NAMES)
    target = innermost_local(exc, frame, "target", _LOSS_NAMES)
    failing = failing_module(exc, frame)
    module = failing[0] if failing is not None else None
    call = loss_call(line, module)
    loss = line.name_of(module) if module is not None else None
    if loss is None:
        loss = line.src(call.func) if call is not None else "the loss"
    args: dict[str, ast.expr] = {}
    if call is not None:
        for key, node in zip(("input", "target"), call.args, strict=False):
            args[key] = node
        for kw in call.keywords:
            if kw.arg in ("input", "target"):
                args[kw.arg] = kw.value
    names = []
    for key, obj in (("input", value), ("target", target)):
        name = line.name_of(obj) if is_a(obj, torch.Tensor) else None
        if name is None and key in args:
            name = line.src(args[key])
        names.append(name or key)
    return loss, (names[0], value), (names[1], target)
