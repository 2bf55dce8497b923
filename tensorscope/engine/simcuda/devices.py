"""The simulation's side table: each tensor's simulated device, keyed by its storage (weakly held).

Views, `detach`, `nn.Parameter` and `.data =` share the storage, so they follow their tensor. A storage not in
the table is where it really is (the CPU).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch

from tensorscope.engine.values import is_a

CPU = torch.device("cpu")


def storage_of(t: torch.Tensor) -> Any:
    """The tensor's storage (what the side table is keyed by); None for layouts without one."""
    try:
        return t.untyped_storage()
    except (RuntimeError, NotImplementedError, TypeError):  # sparse, nested: no storage to key on
        return None


def tensors_in(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[torch.Tensor]:
    """The tensors among an op's arguments (and inside its tensor lists)."""
    for a in (*args, *kwargs.values()):
        if is_a(a, torch.Tensor):
            yield a
        elif isinstance(a, list | tuple):
            for b in a:
                if is_a(b, torch.Tensor):
                    yield b


def devices_in(get: Callable[[weakref.ref[Any]], torch.device | None],
               groups: tuple[Any, ...]) -> tuple[torch.device | None, bool, bool]:
    """Over the tensors of an op's argument groups (and inside their lists and tuples): the first simulated
    CUDA device, whether a tensor really on the CPU is among them, and whether there is any tensor at all.
    `get` looks a storage's weak reference up in the side table."""
    ref = weakref.ref
    cuda: torch.device | None = None
    has_cpu = has_tensor = False
    for group in groups:
        for a in group:
            for t in a if type(a) is list or type(a) is tuple else (a,):
                if is_a(t, torch.Tensor):
                    has_tensor = True
                    try:
                        found = get(ref(t.untyped_storage()))
                    except (RuntimeError, NotImplementedError, TypeError):  # no storage to key on
                        found = None
                    if found is None:
                        has_cpu = True
                    elif cuda is None:
                        cuda = found
    return cuda, has_cpu, has_tensor


class DeviceTable:
    """Simulated device by storage, and the device the user's current call asks for or works on."""

    def __init__(self) -> None:
        self.devices: dict[weakref.ref[Any], torch.device] = {}
        """Simulated device by storage (weakly held); a storage not here is where it really is."""
        devices = self.devices
        self.forget: Callable[[weakref.ref[Any]], None] = lambda r: devices.pop(r, None)  # type: ignore[misc]
        """Drops a storage's entry when the storage is freed (the weak reference's callback)."""
        self.call: tuple[Any, ...] = ()
        """The arguments of the user's torch call that is running now."""
        self.explicit: torch.device | None = None
        """The device that call names (`device="cuda"`), if any."""

    def device_of(self, t: torch.Tensor) -> torch.device:
        """The simulated device of a tensor (its real device when the simulation never moved it)."""
        storage = storage_of(t)
        found = self.devices.get(weakref.ref(storage)) if storage is not None else None
        if found is not None:
            return found
        with torch._C.DisableTorchFunction():
            return t.device

    def device_name(self, t: torch.Tensor) -> str:
        """`str(t.device)` as the script sees it (for tensor metadata)."""
        return str(self.device_of(t))

    def mark(self, t: torch.Tensor, device: torch.device) -> None:
        """Record that `t` (and every tensor sharing its storage) is on `device`."""
        storage = storage_of(t)
        if storage is None:
            return
        key = weakref.ref(storage)
        if device.type != "cuda":
            self.devices.pop(key, None)
        elif self.devices.get(key) != device:
            self.devices[weakref.ref(storage, self.forget)] = device

    def cuda_of(self, t: torch.Tensor) -> torch.device | None:
        """The simulated CUDA device of a tensor, None when it is (really) where it is."""
        storage = storage_of(t)
        return self.devices.get(weakref.ref(storage)) if storage is not None else None

    def ambient(self) -> torch.device:
        """Device for tensors an op makes from nothing: the one the user's call asked for or works on."""
        if self.explicit is not None:
            return self.explicit
        for t in tensors_in(self.call, {}):
            found = self.cuda_of(t)
            if found is not None:
                return found
        return CPU
