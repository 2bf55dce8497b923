"""PyTorch's device checks, replayed on the CPU for the calls of a simulated script that mix devices.

Which check an aten op runs on CUDA, and its exact words, come from torchgen's codegen (`ops.py`):
argument-checked ops (`... but got mat1 is on cpu, different from other tensors on cuda:0 (when checking
argument in method wrapper_CUDA_addmm)`) and TensorIterator ops (`... found at least two devices, cuda:0 and
cpu!`, CPU 0-dim inputs allowed); copies, indexing and convolution have rules of their own.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tensorscope.engine.simcuda.devices import CPU, DeviceTable, devices_in, storage_of, tensors_in
from tensorscope.engine.simcuda.ops import ARGUMENT_CHECKED
from tensorscope.engine.values import is_a

_SAME_DEVICE = "Expected all tensors to be on the same device, but "


def _in_backward() -> bool:
    return torch._C._current_graph_task_id() != -1


_COPY_OPS = frozenset({"copy_", "_copy_from", "_copy_from_and_resize", "copy", "copy.out"})
_SAME_AS_INPUT = frozenset({"_to_copy", "_to_copy.out", "lift_fresh", "lift_fresh_copy", "detach", "alias"})
_INDEX_OPS = frozenset({
    "index.Tensor", "index.Tensor_out", "_unsafe_index.Tensor", "index_put", "index_put_",
    "_index_put_impl_", "_unsafe_index_put", "index_put.out", "_index_put_impl", "_index_put_impl.out",
})
_CONV_OPS = frozenset({"convolution", "_convolution", "convolution_overrideable"})


class _Rule:
    """How one aten op treats devices: which check PyTorch runs on CUDA and where its results go."""

    def __init__(self, func: Any) -> None:
        name = func._schema.name.split("::", 1)[-1]
        overload = func._overloadname
        self.op = name if overload == "default" else f"{name}.{overload}"
        arguments = func._schema.arguments
        self.names = [a.name for a in arguments]
        self.kwarg_only = {a.name for a in arguments if a.kwarg_only}
        self.written = {a.name for a in arguments if a.alias_info is not None and a.alias_info.is_write}
        if self.op in _COPY_OPS or name in _COPY_OPS:
            self.kind = "copy"
        elif self.op in _SAME_AS_INPUT:
            self.kind = "same"
        elif self.op in _INDEX_OPS:
            self.kind = "index"
        elif name == "set_":
            self.kind = "set"
        elif self.op in _CONV_OPS:
            self.kind = "conv"
        elif self.op == "embedding":
            self.kind = "embedding"
        elif self.op == "stack" or self.op == "stack.out":
            self.kind = "stack"
        elif self.op in ARGUMENT_CHECKED:
            self.kind = "checked"
        else:
            self.kind = "elementwise"

    def named(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Argument values by schema name."""
        values = dict(kwargs)
        for name, value in zip(self.names, args, strict=False):
            values[name] = value
        return values


class DeviceDispatch(TorchDispatchMode):
    """Marks every op's results with their simulated device; raises PyTorch's error when devices mix."""

    def __init__(self, sim: DeviceTable) -> None:
        super().__init__()
        self.sim = sim
        self._rules: dict[Any, _Rule] = {}

    def rule(self, func: Any) -> _Rule:
        found = self._rules.get(func)
        if found is None:
            found = self._rules[func] = _Rule(func)
        return found

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # no torch.compile wrapper: importing dynamo costs seconds and each op a call

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        if kwargs:
            device = kwargs.get("device")
            if isinstance(device, torch.device) and device.type == "cuda":  # never reaches a CPU kernel
                kwargs = {**kwargs, "device": CPU}
            groups: tuple[Any, ...] = (args, kwargs.values())
        else:
            kwargs = {}
            groups = (args,)
        sim = self.sim
        cuda, has_cpu, has_tensor = devices_in(sim.devices.get, groups)
        if not has_tensor:
            out = func(*args, **kwargs)
            target = sim.ambient()
        elif cuda is None:
            return func(*args, **kwargs)
        elif not has_cpu:
            out = func(*args, **kwargs)
            target = cuda
        else:
            target = self._mixed(self.rule(func), args, kwargs, cuda)
            out = func(*args, **kwargs)
        if target.type == "cuda":
            forget = sim.forget
            devices = sim.devices
            outs = (out,) if is_a(out, torch.Tensor) else out if isinstance(out, list | tuple) else ()
            for o in outs:
                if is_a(o, torch.Tensor):
                    storage = storage_of(o)
                    if storage is not None:
                        devices[weakref.ref(storage, forget)] = target
        return out

    def _mixed(self, rule: _Rule, args: tuple[Any, ...], kwargs: dict[str, Any],
               cuda: torch.device) -> torch.device:
        """Check an op that sees both devices as PyTorch does on CUDA; the device of its results."""
        sim = self.sim
        if rule.kind == "copy":
            return sim.device_of(args[0])
        if rule.kind == "same":
            return sim.device_of(args[0])
        if rule.kind == "set":
            return sim.device_of(args[1]) if len(args) > 1 and is_a(args[1], torch.Tensor) else cuda
        if _in_backward():  # autograd's own ops: PyTorch moves gradients itself, never complains
            return cuda
        values = rule.named(args, kwargs)
        if rule.kind == "index":
            return self._check_index(values)
        if rule.kind == "conv":
            _check_conv(sim, values.get("input"), values.get("weight"), values.get("bias"))
            return cuda
        if rule.kind == "embedding":
            _check_arguments(sim, "wrapper_CUDA__index_select",
                             [("self", values.get("weight")), ("index", values.get("indices"))])
        elif rule.kind == "stack":
            _check_arguments(sim, "wrapper_CUDA_cat", [("tensors", values.get("tensors"))])
        elif rule.kind == "checked":
            method, names = ARGUMENT_CHECKED[rule.op]
            _check_arguments(sim, method, [(n, values.get(n)) for n in names])
        else:
            self._check_elementwise(rule, args, kwargs, cuda)
        return cuda

    def _check_elementwise(self, rule: _Rule, args: tuple[Any, ...], kwargs: dict[str, Any],
                           cuda: torch.device) -> None:
        """TensorIterator's rule: one device, except CPU 0-dim tensors among the inputs."""
        sim = self.sim
        values = rule.named(args, kwargs)
        for name in rule.written:  # outputs (in-place self, out=) may never be CPU scalars
            for t in tensors_in((values.get(name),), {}):
                if sim.cuda_of(t) is None:
                    _raise_two_devices(cuda, sim.device_of(t))
        for t in tensors_in(args, kwargs):
            if sim.cuda_of(t) is None and t.dim() != 0:
                _raise_two_devices(cuda, sim.device_of(t))

    def _check_index(self, values: dict[str, Any]) -> torch.device:
        """Indices may be on the CPU or on the indexed tensor's device; values follow the elementwise rule."""
        sim = self.sim
        target = values.get("self")
        device = sim.device_of(target) if is_a(target, torch.Tensor) else CPU
        for t in tensors_in((values.get("indices"),), {}):
            d = sim.device_of(t)
            if d.type != "cpu" and d != device:
                raise RuntimeError(
                    f"indices should be either on cpu or on the same device as the indexed tensor ({device})"
                )
        v = values.get("values")
        if is_a(v, torch.Tensor):
            dv = sim.device_of(v)
            if dv != device and not (dv.type == "cpu" and v.dim() == 0):
                _raise_two_devices(device if device.type == "cuda" else dv, CPU)
        return device


def _raise_two_devices(common: torch.device, other: torch.device) -> None:
    raise RuntimeError(f"{_SAME_DEVICE}found at least two devices, {common} and {other}!")


def _check_arguments(sim: DeviceTable, method: str, arguments: list[tuple[str, Any]]) -> None:
    """The check PyTorch generates for CUDA kernels: every tensor argument on the first one's device."""
    common: torch.device | None = None
    for name, value in arguments:
        for t in tensors_in((value,), {}):
            d = sim.device_of(t)
            if common is None:
                common = d
            elif d != common:
                raise RuntimeError(
                    f"{_SAME_DEVICE}got {name} is on {d}, different from other tensors on {common} "
                    f"(when checking argument in method {method})"
                )


def legacy_type(sim: DeviceTable, t: torch.Tensor) -> str:
    """`t.type()` as PyTorch writes it: torch.FloatTensor, torch.cuda.FloatTensor."""
    with torch._C.DisableTorchFunction():
        name = t.type()
    if sim.device_of(t).type == "cuda" and name.startswith("torch."):
        name = "torch.cuda." + name.removeprefix("torch.")
    return name


def _check_conv(sim: DeviceTable, x: Any, weight: Any, bias: Any) -> None:
    """Convolution's own check (its message names tensor types, not devices)."""
    if not is_a(x, torch.Tensor) or not is_a(weight, torch.Tensor):
        return
    x_device = sim.device_of(x)
    mkldnn = x_device.type == "cpu"
    if x_device != sim.device_of(weight):
        tail = " or input should be a MKLDNN tensor and weight is a dense tensor" if mkldnn else ""
        raise RuntimeError(
            f"Input type ({legacy_type(sim, x)}) and weight type ({legacy_type(sim, weight)}) "
            f"should be the same{tail}"
        )
    if is_a(bias, torch.Tensor) and x_device != sim.device_of(bias):
        if mkldnn:
            raise RuntimeError(
                f"Input type ({legacy_type(sim, x)}) bias type ({legacy_type(sim, bias)}) should be the "
                "same or input should be a MKLDNN tensor and bias is a dense tensor"
            )
        raise RuntimeError(
            f"Input type ({legacy_type(sim, x)}) and bias type ({legacy_type(sim, bias)}) "
            "should be the same"
        )
