"""The user's names for their objects: `w`, `model.0.weight`, `self.h`, found by identity in their frames."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any

import torch

from tensorscope.checks.support.resolve import instance_dict
from tensorscope.checks.support.text import shape_text
from tensorscope.engine.collect import iter_named_tensors, scope_of
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

__all__ = ["Names", "member_name", "scope_name", "user_frames"]


def member_name(prefix: str, module: torch.nn.Module, obj: Any) -> str | None:
    """`model.0.weight` for a parameter, buffer or submodule `obj` of `module` called `prefix`."""
    try:
        if is_a(obj, torch.Tensor):
            for name, p in module.named_parameters():
                if p is obj:
                    return f"{prefix}.{name}"
            for name, b in module.named_buffers():
                if b is obj:
                    return f"{prefix}.{name}"
        elif is_a(obj, torch.nn.Module):
            for name, m in module.named_modules():
                if m is obj:
                    return f"{prefix}.{name}" if name else prefix
    except Exception:
        return None
    return None


def scope_name(obj: Any, frame: types.FrameType) -> str | None:
    """How `obj` is reachable from the frame's locals and globals (`w`, `model.0.weight`, `batch[0]`)."""
    try:
        local = frame.f_locals
        scopes = [local] if frame.f_globals is local else [local, frame.f_globals]
        for scope in scopes:
            for name, value in scope.items():
                if value is obj and not name.startswith("__"):
                    return name
        if is_a(obj, torch.Tensor):
            for scope in scopes:
                for name, t, _kind in iter_named_tensors(scope):
                    if t is obj:
                        return name
        elif is_a(obj, torch.nn.Module):
            for scope in scopes:
                for name, value in scope.items():
                    if is_a(value, torch.nn.Module) and not name.startswith("__"):
                        found = member_name(name, value, obj)
                        if found:
                            return found
    except Exception:
        return None
    return None


def user_frames(ctx: RunContext, frame: types.FrameType | None = None) -> list[types.FrameType]:
    """The user's frames from the innermost outwards."""
    frames: list[types.FrameType] = []
    for start in (frame, ctx.user_frame()):
        f = start
        while f is not None:
            if f not in frames and ctx.is_user_code(f.f_code):
                frames.append(f)
            f = f.f_back
    return frames


class Names:
    """Finds the user's names for tensors by identity (and by storage, for aliases) in their frames."""

    def __init__(self, ctx: RunContext, frame: types.FrameType | None = None,
                 namespace: dict[str, Any] | None = None) -> None:
        self._by_id: dict[int, str] = {}
        self._by_ptr: dict[tuple[int, tuple[int, ...]], str] = {}
        self._keep: list[torch.Tensor] = []
        self._order: dict[str, int] = {}
        scopes: list[Any] = list(user_frames(ctx, frame))
        if namespace is not None:
            scopes.append(namespace)
        with torch._C.DisableTorchFunction():
            for f in scopes:
                scope = dict(f) if isinstance(f, dict) else scope_of(f)
                for name, t, _kind in iter_named_tensors(scope):
                    self._add(name, t)
                for name, value in scope.items():
                    if is_a(value, torch.optim.Optimizer):
                        self._add_optimizer(name, value)
                    elif _is_plain_object(value):
                        self._add_attributes(name, value)

    def _add(self, name: str, t: torch.Tensor) -> None:
        if id(t) not in self._by_id:
            self._by_id[id(t)] = name
            self._order.setdefault(name, len(self._order))
            self._keep.append(t)
        try:
            key = (t.data_ptr(), tuple(t.shape))
        except RuntimeError:  # a tensor without storage (meta, functional): known by identity only
            return
        self._by_ptr.setdefault(key, name)

    def _add_attributes(self, name: str, obj: Any) -> None:
        """One level into a plain object (a trainer's `self.model`, `self.h`)."""
        state = instance_dict(obj) or {}
        attrs = {f"{name}.{k}": v for k, v in list(state.items())[:64]
                 if isinstance(k, str) and not k.startswith("__")}
        for child, t, _kind in iter_named_tensors(attrs):
            self._add(child, t)
        for child, value in attrs.items():
            if is_a(value, torch.optim.Optimizer):
                self._add_optimizer(child, value)

    def _add_optimizer(self, name: str, opt: torch.optim.Optimizer) -> None:
        for gi, group in enumerate(opt.param_groups):
            for pi, p in enumerate(group.get("params", [])):
                if is_a(p, torch.Tensor) and id(p) not in self._by_id:
                    self._add(f"{name}.param_groups[{gi}]['params'][{pi}]", p)

    def get(self, t: torch.Tensor) -> str | None:
        """The user's name for `t` (or for a tensor with the same storage and shape), if any."""
        name = self._by_id.get(id(t))
        if name is not None:
            return name
        try:
            return self._by_ptr.get((t.data_ptr(), tuple(t.shape)))
        except RuntimeError:  # no storage
            return None

    def rank(self, t: torch.Tensor) -> int:
        """Where `t` comes in the user's scope (definition order), for listing names as the user would."""
        name = self.get(t)
        return self._order.get(name, len(self._order)) if name is not None else len(self._order)

    def name(self, t: torch.Tensor) -> str:
        """A name for `t`: the user's, or a description by shape."""
        return self.get(t) or f"a tensor of shape {shape_text(t)}"


def _is_plain_object(value: Any) -> bool:
    if isinstance(value, torch.Tensor | torch.nn.Module | types.ModuleType | type | types.FunctionType
                  | types.MethodType | types.BuiltinFunctionType | list | tuple | dict):
        return False
    return instance_dict(value) is not None
