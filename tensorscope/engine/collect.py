"""Turn the objects in a frame into TensorViews: metadata always, values only when small and cheap."""

from __future__ import annotations

import dataclasses
import math
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from tensorscope.engine.graph import graph_of
from tensorscope.model import GradView, OptimizerView, Stats, TensorView

PREVIEW_NUMEL = 16
"""Tensors with at most this many elements carry their values."""
STATS_NUMEL = 1_000_000
"""Tensors with at most this many elements carry statistics (cached by identity and version)."""
CONTAINER_ITEMS = 8
"""How many tensors are shown from one list, tuple or dict."""
_SKIP_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type, types.MethodType)
DeviceName = Callable[[torch.Tensor], str]
"""How a tensor's device is shown (the simulated device under --simulate-cuda); default `str(t.device)`."""


def _device_str(t: torch.Tensor, device_name: DeviceName | None) -> str:
    return device_name(t) if device_name is not None else str(t.device)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def format_number(x: float | int | bool) -> str:
    """Short, stable formatting of one value: 4 significant digits."""
    if isinstance(x, bool):
        return "True" if x else "False"
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.4g}"
    return "0" if text == "-0" else text


def format_values(values: Any) -> str:
    """Nested lists of numbers as `[[1.5, 2], [3, 4]]`."""
    if isinstance(values, list):
        return "[" + ", ".join(format_values(v) for v in values) + "]"
    if isinstance(values, complex):
        return f"{format_number(values.real)}{format_number(values.imag):+}j".replace("+-", "-")
    return format_number(values)


class StatsCache:
    """Statistics keyed by (id, data_ptr, version, shape) so unchanged tensors are never recomputed."""

    def __init__(self, size: int = 4096) -> None:
        self._cache: dict[tuple[Any, ...], Stats | None] = {}
        self._size = size

    def get(self, t: torch.Tensor) -> Stats | None:
        if t.numel() == 0 or t.numel() > STATS_NUMEL or t.is_complex() or t.dtype == torch.bool:
            return None
        if t.is_sparse or t.device.type == "meta":
            return None
        key = (id(t), t.data_ptr(), t._version, tuple(t.shape), t.dtype)
        if key in self._cache:
            return self._cache[key]
        stats = _compute_stats(t)
        if len(self._cache) >= self._size:
            self._cache.clear()
        self._cache[key] = stats
        return stats


def _compute_stats(t: torch.Tensor) -> Stats | None:
    try:
        with torch.no_grad():
            x = t.detach()
            if not x.is_floating_point():
                x = x.double()
            finite = torch.isfinite(x)
            nan = int(torch.isnan(x).sum())
            inf = int(torch.isinf(x).sum())
            vals = x[finite] if (nan or inf) else x
            if vals.numel() == 0:
                return Stats(math.nan, math.nan, math.nan, math.nan, nan, inf)
            vals = vals.double()
            std = float(vals.std()) if vals.numel() > 1 else 0.0
            return Stats(float(vals.min()), float(vals.max()), float(vals.mean()), std, nan, inf)
    except Exception:  # never let a summary break the user's run
        return None


def _preview(t: torch.Tensor) -> str | None:
    if t.numel() > PREVIEW_NUMEL or t.is_sparse or t.device.type == "meta":
        return None
    try:
        return format_values(t.detach().cpu().tolist())
    except Exception:
        return None


def grad_of(t: torch.Tensor) -> torch.Tensor | None:
    """`.grad` without the warning PyTorch gives for non-leaf tensors (their .grad is never set)."""
    if not (t.is_leaf or t.retains_grad):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = t.grad
    return g if isinstance(g, torch.Tensor) else None


def view_grad(g: torch.Tensor, device_name: DeviceName | None = None) -> GradView:
    norm: float | None = None
    if g.is_floating_point() and not g.is_sparse:
        try:
            with torch.no_grad():
                norm = float(g.detach().double().norm())
        except Exception:
            norm = None
    return GradView(
        shape=tuple(g.shape),
        dtype=dtype_name(g.dtype),
        device=_device_str(g, device_name),
        norm=norm,
        preview=_preview(g),
    )


def view_tensor(
    name: str, t: torch.Tensor, stats: StatsCache, kind: str = "tensor", device_name: DeviceName | None = None
) -> TensorView:
    """Metadata of one tensor; never calls `repr` and never raises."""
    g = grad_of(t)
    gf = t.grad_fn
    return TensorView(
        name=name,
        shape=tuple(t.shape),
        dtype=dtype_name(t.dtype),
        device=_device_str(t, device_name),
        requires_grad=t.requires_grad,
        is_leaf=t.is_leaf,
        grad_fn=gf.name() if gf is not None else None,
        version=t._version if not t.is_inference() else 0,
        numel=t.numel(),
        kind=kind,
        preview=_preview(t),
        stats=stats.get(t),
        grad=view_grad(g, device_name) if g is not None else None,
    )


def iter_named_tensors(
    namespace: Mapping[str, Any],
) -> Iterator[tuple[str, torch.Tensor, str]]:
    """(name, tensor, kind) for tensors reachable from a namespace as DESIGN.md describes."""
    for name, value in list(namespace.items()):
        if name.startswith("__") or isinstance(value, _SKIP_TYPES):
            continue
        yield from _expand(name, value)


def _expand(name: str, value: Any) -> Iterator[tuple[str, torch.Tensor, str]]:
    if isinstance(value, torch.Tensor):
        yield name, value, "parameter" if isinstance(value, torch.nn.Parameter) else "tensor"
    elif isinstance(value, torch.nn.Module):
        try:
            for pname, p in value.named_parameters():
                yield f"{name}.{pname}", p, "parameter"
            for bname, b in value.named_buffers():
                if b is not None:
                    yield f"{name}.{bname}", b, "buffer"
        except Exception:
            return
    elif type(value) in (list, tuple):
        shown = 0
        for i, item in enumerate(value[:256]):
            if isinstance(item, torch.Tensor):
                yield f"{name}[{i}]", item, "tensor"
                shown += 1
                if shown >= CONTAINER_ITEMS:
                    break
    elif type(value) is dict:
        shown = 0
        for key, item in list(value.items())[:256]:
            if isinstance(item, torch.Tensor) and isinstance(key, str | int):
                yield f"{name}[{key!r}]", item, "tensor"
                shown += 1
                if shown >= CONTAINER_ITEMS:
                    break


def scope_of(frame: types.FrameType) -> dict[str, Any]:
    """Locals first, then the module's globals not shadowed by them."""
    local = frame.f_locals
    if frame.f_globals is local:
        return dict(local)
    merged = dict(local)
    for k, v in frame.f_globals.items():
        merged.setdefault(k, v)
    return merged


def collect(
    namespace: Mapping[str, Any], stats: StatsCache, device_name: DeviceName | None = None
) -> tuple[tuple[TensorView, ...], tuple[OptimizerView, ...]]:
    """TensorViews and OptimizerViews for everything of interest in a namespace."""
    views: list[TensorView] = []
    with torch._C.DisableTorchFunction():
        found: dict[str, tuple[torch.Tensor, str]] = {}
        for name, t, kind in iter_named_tensors(namespace):
            found.setdefault(name, (t, kind))
        names: dict[int, str] = {}
        for name, (t, _) in found.items():
            names.setdefault(id(t), name)
        for name, (t, kind) in found.items():
            try:
                view = view_tensor(name, t, stats, kind, device_name)
                if t.grad_fn is not None:
                    view = dataclasses.replace(view, graph=graph_of(t.grad_fn, names))
                views.append(view)
            except Exception:
                continue
        optimizers = tuple(
            _view_optimizer(name, v)
            for name, v in namespace.items()
            if isinstance(v, torch.optim.Optimizer)
        )
    return tuple(views), optimizers


def _view_optimizer(name: str, opt: torch.optim.Optimizer) -> OptimizerView:
    groups = getattr(opt, "param_groups", [])
    lr = groups[0].get("lr") if groups else None
    try:
        lr_value = float(lr) if lr is not None else None
    except (TypeError, ValueError):
        lr_value = None
    count = sum(len(g.get("params", [])) for g in groups)
    return OptimizerView(name=name, type=type(opt).__name__, lr=lr_value, param_count=count)
