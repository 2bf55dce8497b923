"""`device-mismatch`: one operation mixes tensors on different devices; names them and their devices."""

from __future__ import annotations

import re
import types
from typing import TYPE_CHECKING, ClassVar

import torch

from tensorscope.checks.base import Check
from tensorscope.checks.support.culprits import Operand, involved
from tensorscope.checks.support.lines import Line, call_receiver, calls_named, look, peel
from tensorscope.checks.support.origin import origin_of
from tensorscope.checks.support.text import describe

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

_SAME_DEVICE = re.compile(
    r"Expected all tensors to be on the same device"
    r"(?:, but found at least two devices, (?P<d1>[\w:]+) and (?P<d2>[\w:]+)!"
    r"|, but got \w+ is on (?P<g1>[\w:]+), different from other tensors on (?P<g2>[\w:]+))?"
)
_OTHERS = [
    re.compile(r"Input type \((?P<d1>[\w.]+)\) and (?:weight|bias) type \((?P<d2>[\w.]+)\) "
               r"should be the same"),
    re.compile(r"Expected object of device type (?P<d1>\w+) but got device type (?P<d2>\w+)"),
    re.compile(r"Tensor on device (?P<d1>[\w:]+) is not on the expected device (?P<d2>[\w:]+)!"),
    re.compile(r"indices should be either on cpu or on the same device as the indexed tensor "
               r"\((?P<d1>[\w:]+)\)"),
]
_CHAIN = re.compile(r"[\w.]+(\[[\w'\"]+\])*")
_NUMPY = re.compile(r"can't convert (?P<d1>[\w:]+) device type tensor to numpy")


def _device_of_type(text: str) -> str:
    """`torch.cuda.FloatTensor` -> `cuda`, `torch.FloatTensor` -> `cpu`; device names pass through."""
    if "Tensor" in text:
        return "cuda" if ".cuda." in text else "cpu"
    return text


def _same_kind(a: str, b: str) -> bool:
    return a.split(":")[0] == b.split(":")[0]


def match(message: str) -> tuple[str, str, str] | None:
    """(kind, device 1, device 2) when `message` is one of PyTorch's device errors; kind is `mix`/`numpy`."""
    m = _NUMPY.search(message)
    if m:
        return "numpy", m["d1"], "cpu"
    m = _SAME_DEVICE.search(message)
    if m:
        d1 = m["d1"] or m["g1"] or ""
        d2 = m["d2"] or m["g2"] or ""
        return "mix", d1, d2
    for pattern in _OTHERS:
        m = pattern.search(message)
        if m:
            d1 = _device_of_type(m["d1"])
            d2 = _device_of_type(m.groupdict().get("d2") or ("cuda" if d1 == "cpu" else "cpu"))
            if d1 == d2:
                return None  # `Input type (double) and bias type (float)`: a dtype error
            return "mix", d1, d2
    return None


def pick_pair(operands: list[Operand], d1: str, d2: str) -> tuple[Operand, Operand] | None:
    """Two operands on different devices, the user's own data first."""
    located = [(op, describe(op.tensor)) for op in operands]
    located = [(op, meta.device) for op, meta in located if meta is not None]
    wanted = {d for d in (d1, d2) if d}
    for op_a, dev_a in located:
        for op_b, dev_b in located:
            if dev_a == dev_b:
                continue
            if wanted and not (any(_same_kind(dev_a, d) for d in wanted)
                               and any(_same_kind(dev_b, d) for d in wanted)):
                continue
            return op_a, op_b
    return None


def _device_variable(line: Line, device: str) -> str | None:
    """A variable of the script that names `device` (`device = torch.device("cuda")`), if any."""
    frame = line.frame
    if frame is None:
        return None
    wanted = torch.device(device)
    local = frame.f_locals
    for scope in (local, frame.f_globals):
        for name, value in scope.items():
            if name.startswith("_") or not isinstance(value, torch.device | str):
                continue
            try:
                dev = torch.device(value)
            except (RuntimeError, TypeError):
                continue
            if dev.type == wanted.type and (dev.index is None or dev.index == (wanted.index or 0)):
                return name
    return None


def move_code(op: Operand, device: str, line: Line) -> str:
    """The line of code that moves `op` (or its module) to `device`."""
    try:
        target = _device_variable(line, device) or f'"{device}"'
    except Exception:
        target = f'"{device}"'
    if op.is_parameter and "." in op.name:
        module = op.name.rsplit(".", 1)[0]
        return f"{module}.to({target})"
    if _CHAIN.fullmatch(op.name):
        return f"{op.name} = {op.name}.to({target})"
    return f"({op.name}).to({target})"


def _numpy_name(line: Line) -> str:
    for call in calls_named(line, ("numpy",)):
        receiver = call_receiver(call)
        if receiver is not None:
            return line.src(peel(receiver))
    for ref in line.tensors():
        meta = describe(ref.value)
        if meta is not None and meta.device != "cpu":
            return ref.text
    return "?"


class DeviceMismatch(Check):
    """Explains a device error with the user's variables and their devices."""

    code: ClassVar[str] = "device-mismatch"
    explains = (RuntimeError, TypeError, ValueError)

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        found = match(str(exc))
        if found is None:
            return False
        kind, d1, d2 = found
        view = look(ctx, frame, line)
        data = {"code": view.text, "a_device": d1 or "?", "b_device": d2 or "?"}
        tensors: tuple[str, ...] = ()
        if kind == "numpy":
            name = _numpy_name(view)
            data.update(variant="numpy", a=name)
            tensors = (name,) if name != "?" else ()
        else:
            pair = pick_pair(involved(view, exc, frame), d1, d2)
            if pair is None:
                data["variant"] = "unnamed"
            else:
                a, b = pair
                if a.is_parameter and not b.is_parameter:
                    a, b = b, a
                ma, mb = describe(a.tensor), describe(b.tensor)
                dev_a = ma.device if ma else d1
                dev_b = mb.device if mb else d2
                # move the CPU side to the accelerator: that is what the script meant to use
                mover, dest = (a, dev_b) if dev_a == "cpu" else (b, dev_a) if dev_b == "cpu" else (a, dev_b)
                data.update(a=a.name, a_device=dev_a, b=b.name, b_device=dev_b,
                            move=move_code(mover, dest, view))
                origin = None if mover.is_parameter else origin_of(ctx, mover.tensor, mover.name, frame)
                if origin is not None:  # made in an outer function: say where
                    data.update(variant="origin", moved=mover.name, origin_line=str(origin.line),
                                origin_code=origin.code)
                tensors = (a.name, b.name)
        self.flag(ctx, "error", data, tensors=tensors, line=line)
        return True
