"""The default device under simulated CUDA: `torch.set_default_device("cuda")`, `with torch.device("cuda"):`.

PyTorch keeps a default device as a `DeviceContext` TorchFunctionMode that adds `device=` to factory calls
that have none. `set_default_device` puts it at the bottom of the mode stack, below the simulation's own
mode, so the simulation reads it itself and makes the factory's tensors simulated CUDA tensors, as on a GPU
(a context manager, pushed on top, already hands the simulation a `device=`). Random factories and in-place
random ops on CUDA refuse a CPU `torch.Generator` with PyTorch's own error, as on a GPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.overrides import _get_current_function_mode_stack
from torch.utils._device import DeviceContext, _device_constructors

__all__ = ["check_generator", "default_device_for", "kept_default_device"]

_CONSTRUCTORS = frozenset(_device_constructors())
"""The factories a `DeviceContext` gives its device to."""


def default_device_for(func: Any, kwargs: dict[str, Any]) -> Any:
    """The default device PyTorch would give this call (None when it names one or is no factory).

    Call from inside the simulation's `__torch_function__`: the stack seen there is the modes below it,
    and the nearest `DeviceContext` among them is the one that would fill in `device=`."""
    if func not in _CONSTRUCTORS or kwargs.get("device") is not None:
        return None
    if not torch._C._len_torch_function_stack():
        return None
    for mode in reversed(_get_current_function_mode_stack()):
        if isinstance(mode, DeviceContext):
            return mode.device
    return None


def check_generator(device: torch.device, kwargs: dict[str, Any]) -> None:
    """PyTorch's check that a random op's generator is of the op's device type (`check_generator`)."""
    gen = kwargs.get("generator")
    if isinstance(gen, torch.Generator) and gen.device.type != device.type:
        raise RuntimeError(
            f"Expected a '{device.type}' device type for generator but found '{gen.device.type}'"
        )


@contextmanager
def kept_default_device() -> Iterator[None]:
    """The thread's default device (`torch.set_default_device`) as it was before the block, afterwards:
    a simulated script's `set_default_device("cuda")` must not outlive the simulation in this thread."""
    state = torch._GLOBAL_DEVICE_CONTEXT
    before = getattr(state, "device_context", None)
    try:
        yield
    finally:
        if getattr(state, "device_context", None) is not before:
            torch.set_default_device(None if before is None else before.device)
