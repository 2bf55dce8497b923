"""Turn the objects in a frame into TensorViews: metadata always, values only when small and cheap."""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from tensorscope.engine.graph import graph_of
from tensorscope.engine.values import is_a
from tensorscope.model import GradView, GraphNode, OptimizerView, Stats, TensorView

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
    return device_name(t) if device_name is not None else sys.intern(str(t.device))


def dtype_name(dtype: torch.dtype) -> str:
    return sys.intern(str(dtype).removeprefix("torch."))  # one copy of `float32` in a long history


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
    """Statistics, and whole views of unchanged tensors, so what did not change is never recomputed.

    Entries hold a weak reference to their tensor: a new tensor that reuses a freed one's address (and
    memory) is never taken for it. Reused views are the same objects step after step, which keeps a long
    history small.
    """

    def __init__(self, size: int = 4096) -> None:
        self._cache: dict[tuple[Any, ...], tuple[weakref.ref[torch.Tensor], Stats | None]] = {}
        self._size = size
        self._views: dict[str, tuple[weakref.ref[torch.Tensor], tuple[Any, ...], TensorView]] = {}
        self._graphs: dict[tuple[GraphNode, ...], tuple[GraphNode, ...]] = {}

    def graph(self, nodes: tuple[GraphNode, ...]) -> tuple[GraphNode, ...]:
        """One shared copy of each distinct graph (a loop draws the same graph at every pass)."""
        shared = self._graphs.get(nodes)
        if shared is None:
            if len(self._graphs) >= self._size:
                self._graphs.clear()
            shared = self._graphs[nodes] = nodes
        return shared

    def get(self, t: torch.Tensor) -> Stats | None:
        if t.numel() == 0 or t.numel() > STATS_NUMEL or t.is_complex() or t.dtype == torch.bool:
            return None
        if t.is_sparse or t.device.type == "meta":
            return None
        key = (id(t), t.data_ptr(), t._version, tuple(t.shape), t.dtype)
        hit = self._cache.get(key)
        if hit is not None and hit[0]() is t:
            return hit[1]
        stats = _compute_stats(t)
        if len(self._cache) >= self._size:
            self._cache.clear()
        try:
            self._cache[key] = (weakref.ref(t), stats)
        except TypeError:
            pass
        return stats

    def view(self, name: str, t: torch.Tensor, kind: str, device_name: DeviceName | None) -> TensorView:
        """`view_tensor(...)`, or the same TensorView as last time when nothing it shows can differ.

        Only tensors without `grad_fn` are reused (a graph's leaves are named from the whole scope);
        small ones are compared by value too, as `w.data -= ...` changes values but not `_version`.
        """
        if t.grad_fn is not None or type(t) not in _PLAIN_TENSORS or t.is_inference():
            return view_tensor(name, t, self, kind, device_name)
        g = t.grad if t.is_leaf else None
        gkey = None if g is None else (id(g), g._version, g.data_ptr(), tuple(g.shape), g.dtype, g.device)
        shown = None if device_name is None else device_name(t)  # a simulated move keeps the storage
        key = (id(t), t._version, t.data_ptr(), tuple(t.shape), t.dtype, t.device, t.requires_grad,
               kind, gkey, shown)
        old = self._views.get(name)
        if old is not None and old[0]() is t and old[1] == key:
            view = old[2]
            if view.preview is None or view.preview == _preview(t):
                if view.grad is None or view.grad.preview is None or (
                        g is not None and view.grad.preview == _preview(g)):
                    return view
        view = view_tensor(name, t, self, kind, device_name)
        if len(self._views) >= self._size:
            self._views.clear()
        try:
            self._views[name] = (weakref.ref(t), key, view)
        except TypeError:
            pass
        return view


_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


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
    return g if is_a(g, torch.Tensor) else None


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
        grad_fn=sys.intern(gf.name()) if gf is not None else None,
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
    if is_a(value, torch.Tensor):
        yield name, value, "parameter" if is_a(value, torch.nn.Parameter) else "tensor"
    elif is_a(value, torch.nn.Module):
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
            if is_a(item, torch.Tensor):
                yield f"{name}[{i}]", item, "tensor"
                shown += 1
                if shown >= CONTAINER_ITEMS:
                    break
    elif type(value) is dict:
        shown = 0
        for key, item in list(value.items())[:256]:
            if is_a(item, torch.Tensor) and isinstance(key, str | int):
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
                view = stats.view(name, t, kind, device_name)
                if t.grad_fn is not None:
                    view = dataclasses.replace(view, graph=stats.graph(graph_of(t.grad_fn, names)))
                views.append(view)
            except Exception:
                continue
        optimizers = tuple(
            _view_optimizer(name, v)
            for name, v in namespace.items()
            if is_a(v, torch.optim.Optimizer)
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
