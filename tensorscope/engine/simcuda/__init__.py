"""Simulated CUDA (`--simulate-cuda`): a script behaves as on a one-GPU machine, its data stay on the CPU.

A side table keyed by storage records each tensor's simulated device; views, `detach`, `nn.Parameter` and
`.data =` share the storage, so they follow. A TorchFunctionMode turns `device="cuda"` into the CPU, gives
each call's results the device of its inputs, and answers `.device`, `.is_cuda`, `.get_device()`, `repr`
and `.numpy()` as on a GPU. A call that mixes devices runs under a TorchDispatchMode that checks every aten
op with PyTorch's own rules and error texts (and lets CPU 0-dim scalars through as PyTorch does); gradients
take their leaf's device after `backward()`. `torch.cuda.is_available()` and friends answer as a one-GPU
machine. Factories follow the script's default device (`torch.set_default_device("cuda")`, `with
torch.device("cuda"):`; `default.py`). All of it holds only in the script's thread and only while the
script runs.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch

from tensorscope.engine.disguise import OpMode, call_as
from tensorscope.engine.simcuda.default import check_generator, default_device_for, kept_default_device
from tensorscope.engine.simcuda.devices import CPU, DeviceTable, devices_in, storage_of, tensors_in
from tensorscope.engine.simcuda.dispatch import DeviceDispatch, legacy_type
from tensorscope.engine.simcuda.queries import (
    DEVICE_NAME,
    LOCAL,
    patched_device_queries,
    raise_invalid_ordinal,
    real_cuda_available,
)
from tensorscope.engine.target import ScriptError
from tensorscope.engine.values import is_a

__all__ = ["DEVICE_NAME", "SimulateCudaError", "SimulatedCuda", "real_cuda_available", "simulated_device"]

CUDA0 = torch.device("cuda", 0)
_Handler = Callable[["SimulatedCuda", Any, tuple[Any, ...], dict[str, Any]], Any]


class SimulateCudaError(ScriptError):
    """`--simulate-cuda` cannot be used here (a real GPU is present)."""


def simulated_device(t: torch.Tensor) -> torch.device:
    """The device a tensor reports in this thread: simulated while a simulated script runs here."""
    sim = getattr(LOCAL, "sim", None)
    return sim.device_of(t) if sim is not None else t.device


class SimulatedCuda(DeviceTable):
    """One simulated GPU for one run of a script; `activate()` in the script's thread while it runs."""

    def __init__(self) -> None:
        if real_cuda_available():
            raise SimulateCudaError(
                "--simulate-cuda is for machines without a GPU, and this one has CUDA: run without it"
            )
        super().__init__()
        self._dispatch = DeviceDispatch(self)

    # --- activation -------------------------------------------------------------------------------

    @contextmanager
    def activate(self) -> Iterator[SimulatedCuda]:
        """Simulate in the calling thread until the block ends; everything is restored afterwards."""
        previous = getattr(LOCAL, "sim", None)
        with ExitStack() as stack:
            stack.enter_context(kept_default_device())
            stack.enter_context(patched_device_queries())
            LOCAL.sim = self
            stack.callback(setattr, LOCAL, "sim", previous)
            stack.enter_context(_DeviceFunctions(self))
            yield self

    # --- moving tensors ---------------------------------------------------------------------------

    def copy_to(self, t: torch.Tensor, device: torch.device, memory_format: Any = None) -> torch.Tensor:
        """A copy of `t` on the simulated `device`, recorded by autograd as PyTorch's `.to()` would be."""
        kwargs = {} if memory_format is None else {"memory_format": memory_format}
        copy = torch.ops.aten._to_copy.default(t, **kwargs)
        self.mark(copy, device)
        return copy

    def mark_outputs(self, out: Any, device: torch.device) -> None:
        """Give every tensor a call returned (directly or in a tuple or list) `device`."""
        if is_a(out, torch.Tensor):
            self.mark(out, device)
        elif isinstance(out, list | tuple):
            for o in out:
                if is_a(o, torch.Tensor):
                    self.mark(o, device)

    def mark_grads(self, leaves: list[torch.Tensor]) -> None:
        """A gradient lives on its tensor's device (PyTorch's engine guarantees it)."""
        with torch._C.DisableTorchFunction():
            for leaf in leaves:
                g = leaf.grad
                if g is not None:
                    self.mark(g, self.device_of(leaf))


# --- what the script asks of tensors ----------------------------------------------------------------


def _is_device_like(a: Any) -> bool:
    return isinstance(a, str | torch.device) or (isinstance(a, int) and not isinstance(a, bool))


def _parse_device(a: Any) -> torch.device:
    """A device argument as PyTorch reads it; plain "cuda" means the current GPU, cuda:0."""
    d = torch.device("cuda", a) if isinstance(a, int) and not isinstance(a, bool) else torch.device(a)
    if d.type == "cuda":
        if d.index is None:
            return CUDA0
        if d.index != 0:
            raise_invalid_ordinal()
    return d


def _simulated_types(d: torch.device) -> bool:
    return d.type in ("cpu", "cuda")


def _same_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    sa, sb = storage_of(a), storage_of(b)
    return sa is not None and sa is sb


class _DeviceFunctions(OpMode["SimulatedCuda"]):
    """Answers the script's questions about devices and turns its requests for CUDA into the CPU."""

    def on_op(self, caller: types.FrameType, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        sim = self.owner
        if func in _QUERIES:
            return call_as(caller, func, args, kwargs)
        default = default_device_for(func, kwargs)  # set_default_device("cuda"): a factory's device
        if default is not None and default.type == "cuda":
            kwargs = {**kwargs, "device": default}
        handler = _HANDLERS.get(func)
        if handler is not None:
            return handler(sim, func, args, kwargs)
        if kwargs:
            if kwargs.get("device") is not None:
                return _with_device(sim, func, args, kwargs)
            groups: tuple[Any, ...] = (args, kwargs.values())
        else:
            groups = (args,)
        cuda, has_cpu, _ = devices_in(sim.devices.get, groups)
        if cuda is None:  # the CPU only, as PyTorch really runs it
            return call_as(caller, func, args, kwargs)
        if "generator" in kwargs:
            check_generator(cuda, kwargs)
        if not has_cpu:  # one device: the results are there too
            out = call_as(caller, func, args, kwargs)
            sim.mark_outputs(out, cuda)
            return out
        previous = sim.call  # devices mix: PyTorch's checks, op by op
        sim.call = args
        try:
            with sim._dispatch:
                return call_as(caller, func, args, kwargs)
        finally:
            sim.call = previous


def _with_device(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                 position: int | None = None) -> Any:
    """A call naming a device (factories, `*_like`, `new_*`, `as_tensor`): made on the CPU, then marked."""
    device = _parse_device(kwargs["device"] if position is None else args[position])
    if not _simulated_types(device):
        return func(*args, **kwargs)
    check_generator(device, kwargs)
    if position is None:
        kwargs = {**kwargs, "device": CPU}
    else:
        args = (*args[:position], CPU, *args[position + 1:])
    previous = sim.explicit, sim.call
    sim.explicit, sim.call = device, args
    try:
        out = func(*args, **kwargs)
    finally:
        sim.explicit, sim.call = previous
    inputs = list(tensors_in(args, kwargs))
    if is_a(out, torch.Tensor):
        return _placed(sim, out, device, inputs)
    if isinstance(out, tuple | list):
        return type(out)(_placed(sim, o, device, inputs) if is_a(o, torch.Tensor) else o for o in out)
    return out


def _placed(sim: SimulatedCuda, out: torch.Tensor, device: torch.device,
            inputs: list[torch.Tensor]) -> torch.Tensor:
    """`out` on `device`: marked if new, copied if it is an input that lives elsewhere."""
    for t in inputs:
        if _same_storage(out, t):
            return out if sim.device_of(t) == device else sim.copy_to(out, device)
    sim.mark(out, device)
    return out


def _to(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`Tensor.to(...)`: the real conversion on the CPU; a copy when only the simulated device changes."""
    t = args[0]
    target: torch.device | None = None
    new_args = list(args)
    new_kwargs = dict(kwargs)
    for i, a in enumerate(args[1:], start=1):
        if is_a(a, torch.Tensor):
            target = sim.device_of(a)
            break
        if _is_device_like(a):
            target = _parse_device(a)
            new_args[i] = CPU
            break
    if kwargs.get("device") is not None:
        target = _parse_device(kwargs["device"])
        new_kwargs["device"] = CPU
    if target is None:  # a dtype or memory format only: the device stays
        target = sim.device_of(t)
    elif not _simulated_types(target):
        return func(*args, **kwargs)
    result = func(*new_args, **new_kwargs)
    if result is t:
        return t if sim.device_of(t) == target else sim.copy_to(t, target, kwargs.get("memory_format"))
    sim.mark(result, target)
    return result


def _cuda(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`Tensor.cuda(device=None)`: the current GPU unless told otherwise."""
    t = args[0]
    value = args[1] if len(args) > 1 else kwargs.get("device")
    target = CUDA0 if value is None else _parse_device(value)
    if target.type != "cuda":
        raise RuntimeError(f"Invalid device, must be cuda device, but got: {target}")
    if sim.device_of(t) == target:
        return t
    return sim.copy_to(t, target, kwargs.get("memory_format"))


def _cpu(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = args[0]
    if sim.device_of(t).type == "cpu":
        return func(*args, **kwargs)
    return sim.copy_to(t, CPU, kwargs.get("memory_format"))


def _numpy(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    d = sim.device_of(args[0])
    if d.type == "cuda" and not kwargs.get("force", False):
        raise TypeError(
            f"can't convert {d} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
            "memory first."
        )
    return func(*args, **kwargs)


def _repr(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """PyTorch's own formatting, told the simulated device (`device='cuda:0'`)."""
    t = args[0]
    if sim.device_of(t).type != "cuda":
        return func(*args, **kwargs)
    with _DeviceAnswers(sim):
        return torch._tensor_str._str(t, tensor_contents=kwargs.get("tensor_contents"))


def _type(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if len(args) == 1 and not kwargs:
        return legacy_type(sim, args[0])
    out = func(*args, **kwargs)
    if is_a(out, torch.Tensor) and out is not args[0]:
        sim.mark(out, sim.device_of(args[0]))
    return out


def _as_tensor(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`torch.as_tensor(data, dtype, device)` also takes its device by position."""
    if len(args) >= 3 and args[2] is not None:
        return _with_device(sim, func, args, kwargs, position=2)
    if kwargs.get("device") is not None:
        return _with_device(sim, func, args, kwargs)
    out = func(*args, **kwargs)
    if is_a(out, torch.Tensor) and is_a(args[0], torch.Tensor) and out is not args[0]:
        sim.mark(out, sim.device_of(args[0]))
    return out


def _graph_leaves(roots: Any) -> list[torch.Tensor]:
    """The leaf tensors a backward from `roots` writes gradients into."""
    found: list[torch.Tensor] = []
    seen: set[Any] = set()
    with torch._C.DisableTorchFunction():
        nodes = [t.grad_fn for t in tensors_in((roots,), {}) if t.grad_fn is not None]
        while nodes:
            node = nodes.pop()
            if node in seen:
                continue
            seen.add(node)
            variable = getattr(node, "variable", None)
            if is_a(variable, torch.Tensor):
                found.append(variable)
            nodes.extend(n for n, _ in node.next_functions if n is not None)
    return found


def _backward(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`backward()`: computed on the CPU; then each gradient takes its tensor's device."""
    leaves = _graph_leaves(args[0] if args else kwargs.get("tensors"))
    out = func(*args, **kwargs)
    sim.mark_grads(leaves)
    return out


def _autograd_grad(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`torch.autograd.grad(outputs, inputs)`: each gradient on its input's device."""
    out = func(*args, **kwargs)
    inputs = args[1] if len(args) > 1 else kwargs.get("inputs")
    wanted = [inputs] if is_a(inputs, torch.Tensor) else list(inputs or ())
    for g, t in zip(out, wanted, strict=False):
        if is_a(g, torch.Tensor) and is_a(t, torch.Tensor):
            sim.mark(g, sim.device_of(t))
    return out


def _grad(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    g = func(*args, **kwargs)
    if is_a(g, torch.Tensor):
        sim.mark(g, sim.device_of(args[0]))
    return g


def _device(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return sim.device_of(args[0])


def _is_cuda(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return sim.device_of(args[0]).type == "cuda"


def _is_cpu(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return sim.device_of(args[0]).type == "cpu"


def _get_device(sim: SimulatedCuda, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    d = sim.device_of(args[0])
    return d.index if d.type == "cuda" else func(*args, **kwargs)


_ANSWERS: dict[Any, _Handler] = {
    torch.Tensor.device.__get__: _device,  # type: ignore[attr-defined]
    torch.Tensor.is_cuda.__get__: _is_cuda,  # type: ignore[attr-defined]
    torch.Tensor.is_cpu.__get__: _is_cpu,  # type: ignore[attr-defined]
    torch.Tensor.get_device: _get_device,
}
_HANDLERS: dict[Any, _Handler] = {
    **_ANSWERS,
    torch.Tensor.to: _to,
    torch.Tensor.cuda: _cuda,
    torch.Tensor.cpu: _cpu,
    torch.Tensor.numpy: _numpy,
    torch.Tensor.__array__: _numpy,
    torch.Tensor.__repr__: _repr,
    torch.Tensor.type: _type,
    torch.as_tensor: _as_tensor,
    torch.Tensor.backward: _backward,
    torch.autograd.backward: _backward,
    torch.autograd.grad: _autograd_grad,
    torch.Tensor.grad.__get__: _grad,  # type: ignore[attr-defined]
}


_QUERIES = frozenset(
    getattr(torch.Tensor, name).__get__
    for name in ("dtype", "shape", "requires_grad", "is_leaf", "grad_fn", "is_sparse", "layout", "ndim",
                 "_version", "is_nested", "is_meta", "is_quantized", "is_mkldnn", "output_nr", "retains_grad")
) | frozenset({torch.Tensor.dim, torch.Tensor.size, torch.Tensor.numel, torch.Tensor.is_floating_point,
               torch.Tensor.item, torch.Tensor.__len__, torch.Tensor.stride, torch.Tensor.data_ptr})
"""Calls that return no tensor and need no answer from the simulation: passed straight through."""


class _DeviceAnswers(OpMode["SimulatedCuda"]):
    """Only answers device questions (used while PyTorch formats a simulated tensor)."""

    def on_op(self, caller: types.FrameType, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        handler = _ANSWERS.get(func)
        if handler is not None:
            return handler(self.owner, func, args, kwargs)
        return call_as(caller, func, args, kwargs)
