"""`torch.cuda` and `torch.accelerator` answering as a one-GPU machine, in the simulated script's thread only.

The answers are installed while any simulation runs and the originals put back after the last one; every
other thread, and PyTorch's own code where it picks a CPU or GPU path, keeps the real answers.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch

from tensorscope.engine.instrument import REPLACEMENTS

DEVICE_NAME = "Simulated GPU (tensorscope --simulate-cuda: the data stay on the CPU)"
"""What `torch.cuda.get_device_name()` answers while a script runs simulated."""

LOCAL = threading.local()
"""`LOCAL.sim`: the simulation running in this thread (absent or None elsewhere)."""


def real_cuda_available() -> bool:
    """Whether this machine really has a usable CUDA device (whatever the simulation answers)."""
    original = REPLACEMENTS.original(torch.cuda, "is_available")
    return bool(original())


def raise_invalid_ordinal() -> None:
    """PyTorch's error for a GPU index this one-GPU machine does not have."""
    error = getattr(torch, "AcceleratorError", RuntimeError)
    raise error(
        "CUDA error: invalid device ordinal\n"
        "GPU device may be out of range, do you have enough GPUs?\n"
        "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace "
        "below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1"
    )


def _from_torch(depth: int = 3) -> bool:
    """Whether the caller is PyTorch itself (which keeps running on the CPU it really has)."""
    name = sys._getframe(depth).f_globals.get("__name__", "")
    return name == "torch" or name.startswith("torch.")


def _device_index(device: Any = None) -> int:
    """The GPU index a `torch.cuda` call names; only GPU 0 exists."""
    if device is None:
        return 0
    if isinstance(device, int) and not isinstance(device, bool):
        index = device
    else:
        d = torch.device(device)
        if d.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {d}")
        index = 0 if d.index is None else d.index
    if index not in (0, -1):
        raise_invalid_ordinal()
    return 0


def _device_name(device: Any = None) -> str:
    _device_index(device)
    return DEVICE_NAME


def _select(device: Any) -> None:
    _device_index(device)


def _nothing(device: Any = None) -> None:
    return None


def _current_accelerator(check_available: bool = False) -> torch.device:
    return torch.device("cuda")


# (module, name) -> (answer while simulating, whether PyTorch's own callers keep the real answer)
_SIMULATED: dict[tuple[str, str], tuple[Callable[..., Any], bool]] = {
    ("cuda", "is_available"): (lambda: True, True),
    ("cuda", "device_count"): (lambda: 1, True),
    ("cuda", "current_device"): (lambda: 0, False),
    ("cuda", "get_device_name"): (_device_name, False),
    ("cuda", "set_device"): (_select, False),
    ("cuda", "synchronize"): (_nothing, False),
    ("cuda", "_exchange_device"): (_device_index, False),  # `with torch.cuda.device(0):`
    ("cuda", "_maybe_exchange_device"): (_device_index, False),
    ("accelerator", "is_available"): (lambda: True, True),
    ("accelerator", "current_accelerator"): (_current_accelerator, True),
    ("accelerator", "device_count"): (lambda: 1, True),
    ("accelerator", "current_device_index"): (lambda: 0, False),
    ("accelerator", "set_device_index"): (_select, False),
    ("accelerator", "synchronize"): (_nothing, False),
}


def _module(name: str) -> Any:
    return torch.cuda if name == "cuda" else torch.accelerator


def _gated(key: tuple[str, str], original: Callable[..., Any]) -> Callable[..., Any]:
    answer, torch_sees_real = _SIMULATED[key]

    def query(*args: Any, **kwargs: Any) -> Any:
        if getattr(LOCAL, "sim", None) is None or (torch_sees_real and _from_torch(2)):
            return original(*args, **kwargs)
        return answer(*args, **kwargs)

    return functools.update_wrapper(query, original)


@contextmanager
def patched_device_queries() -> Iterator[None]:
    """Install the thread-gated answers (through the one registry of replaced attributes) while any
    simulation runs; the originals come back after the last."""
    with ExitStack() as stack:
        for key in _SIMULATED:
            module = _module(key[0])
            if hasattr(module, key[1]):
                stack.enter_context(REPLACEMENTS.replaced(module, key[1], functools.partial(_gated, key)))
        yield
