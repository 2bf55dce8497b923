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

from tensorscope.engine.fingerprint import fingerprint
from tensorscope.engine.graph import graph_of
from tensorscope.engine.optim_view import view_optimizer
from tensorscope.engine.values import format_number, is_a
from tensorscope.model import GradView, GraphNode, OptimizerView, Stats, TensorView

PREVIEW_NUMEL = 16
"""Tensors with at most this many elements carry their values."""
STATS_NUMEL = 1_000_000
"""Tensors with at most this many elements carry statistics (cached by identity, version and a fingerprint
of their values: `t.data += 1` changes values without a version bump)."""
CONTAINER_ITEMS = 8
"""How many tensors the checks look at in one list, tuple or dict (and the TUI shows before folding)."""
CONTAINER_LISTED = 64
"""How many tensors of one list, tuple or dict a Step lists; the rest are counted in `Step.more`."""
_SKIP_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type, types.MethodType)
DeviceName = Callable[[torch.Tensor], str]
"""How a tensor's device is shown (the simulated device under --simulate-cuda); default `str(t.device)`."""


def _device_str(t: torch.Tensor, device_name: DeviceName | None) -> str:
    return device_name(t) if device_name is not None else sys.intern(str(t.device))


def dtype_name(dtype: torch.dtype) -> str:
    return sys.intern(str(dtype).removeprefix("torch."))  # one copy of `float32` in a long history


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

    def get(self, t: torch.Tensor, fp: int | None = None) -> Stats | None:
        """The statistics of `t`'s values now; `fp`: its `fingerprint` when the caller has it."""
        if t.numel() == 0 or t.numel() > STATS_NUMEL or t.is_complex() or t.dtype == torch.bool:
            return None
        if t.is_sparse or t.device.type == "meta":
            return None
        if fp is None:
            fp = fingerprint(t, STATS_NUMEL)
            if fp is None:  # values that cannot be fingerprinted are summarised afresh
                return _compute_stats(t)
        key = (id(t), t.data_ptr(), _version(t), tuple(t.shape), t.dtype, fp)
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

    def view(self, name: str, t: torch.Tensor, kind: str, device_name: DeviceName | None,
             aliases: tuple[str, ...] = ()) -> TensorView:
        """`view_tensor(...)`, or the same TensorView as last time when nothing it shows can differ.

        Only tensors without `grad_fn` are reused (a graph's leaves are named from the whole scope). The
        key holds a fingerprint of the values (and of the gradient's), as `w.data -= ...`, a NumPy write
        into shared memory and in-place ops on inference tensors change values but not `_version`.
        """
        fp = fingerprint(t, STATS_NUMEL)
        if t.grad_fn is not None or type(t) not in _PLAIN_TENSORS or fp is None:
            return view_tensor(name, t, self, kind, device_name, aliases, fp)
        g = grad_of(t)
        gkey = None
        if g is not None:
            gfp = fingerprint(g, STATS_NUMEL)
            if gfp is None:
                return view_tensor(name, t, self, kind, device_name, aliases, fp)
            gkey = (id(g), _version(g), g.data_ptr(), tuple(g.shape), g.dtype, g.device, gfp)
        shown = None if device_name is None else device_name(t)  # a simulated move keeps the storage
        key = (id(t), _version(t), t.data_ptr(), tuple(t.shape), t.dtype, t.device, t.requires_grad,
               kind, gkey, shown, aliases, fp)
        old = self._views.get(name)
        if old is not None and old[0]() is t and old[1] == key:
            return old[2]
        view = view_tensor(name, t, self, kind, device_name, aliases, fp)
        if len(self._views) >= self._size:
            self._views.clear()
        try:
            self._views[name] = (weakref.ref(t), key, view)
        except TypeError:
            pass
        return view


_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


def _version(t: torch.Tensor) -> int:
    """`t._version`; 0 for an inference tensor, which has no version counter (reading it raises)."""
    return 0 if t.is_inference() else t._version


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
    if t.is_leaf and type(t) in _PLAIN_TENSORS:  # (a leaf's .grad never warns: no filter to set up)
        g = t.grad
        return g if is_a(g, torch.Tensor) else None
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
    name: str, t: torch.Tensor, stats: StatsCache, kind: str = "tensor",
    device_name: DeviceName | None = None, aliases: tuple[str, ...] = (), fp: int | None = None,
) -> TensorView:
    """Metadata of one tensor, its values when small; never calls `repr`. `fp`: its `fingerprint`."""
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
        version=_version(t),
        numel=t.numel(),
        kind=kind,
        preview=_preview(t),
        stats=stats.get(t, fp),
        grad=view_grad(g, device_name) if g is not None else None,
        aliases=aliases,
    )


def iter_named_tensors(
    namespace: Mapping[str, Any], limit: int = CONTAINER_ITEMS, more: list[tuple[str, int]] | None = None,
) -> Iterator[tuple[str, torch.Tensor, str]]:
    """(name, tensor, kind) for the tensors a namespace reaches (by name, module, list, tuple, dict): at most
    `limit` from one list, tuple or dict; with `more`, (container, how many tensors it holds past them) is
    added. Types are read with `type()`: a script's `__class__` or `__getattribute__` never runs."""
    for name, value in list(namespace.items()):
        if name.startswith("__") or issubclass(type(value), _SKIP_TYPES):
            continue
        yield from _expand(name, value, limit, more)


def _expand(name: str, value: Any, limit: int = CONTAINER_ITEMS,
            more: list[tuple[str, int]] | None = None) -> Iterator[tuple[str, torch.Tensor, str]]:
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
        yield from _contained(name, enumerate(value), limit, more)
    elif type(value) is dict:
        items = [(k, v) for k, v in list(value.items()) if issubclass(type(k), str | int)]
        yield from _contained(name, iter(items), limit, more)


_WINDOW = 256
"""A list, tuple or dict is looked into when one of its first this many items is a tensor."""


def _contained(name: str, items: Iterator[tuple[Any, Any]], limit: int,
               more: list[tuple[str, int]] | None) -> Iterator[tuple[str, torch.Tensor, str]]:
    """The first `limit` tensors among a container's items, `name[key]`; with `more`, the tensors past them
    (the whole container, once a tensor is among its first `_WINDOW` items) are counted into it."""
    shown = left = 0
    for n, (key, item) in enumerate(items):
        if is_a(item, torch.Tensor):
            if shown < limit:
                yield f"{name}[{key!r}]", item, "tensor"
                shown += 1
                if shown == limit and more is None:
                    return
            else:
                left += 1
        elif not shown and n >= _WINDOW - 1:
            return
    if left and more is not None:
        more.append((name, left))


def scope_of(frame: types.FrameType) -> dict[str, Any]:
    """Locals first, then the module's globals not shadowed by them."""
    local = frame.f_locals
    if frame.f_globals is local:
        return dict(local)
    merged = dict(local)
    for k, v in frame.f_globals.items():
        merged.setdefault(k, v)
    return merged


@dataclasses.dataclass(frozen=True)
class Collected:
    """What one pause shows of a namespace."""

    tensors: tuple[TensorView, ...]
    optimizers: tuple[OptimizerView, ...]
    more: tuple[tuple[str, int], ...] = ()
    """(container name, how many of its tensors are not listed), as `Step.more`."""


OnError = Callable[[str, BaseException], None]
"""Where an unexpected error while collecting goes (the Session records it as an internal error)."""


def collect(
    namespace: Mapping[str, Any], stats: StatsCache, device_name: DeviceName | None = None,
    on_error: OnError | None = None,
) -> Collected:
    """TensorViews and OptimizerViews for everything of interest in a namespace.

    One TensorView per distinct tensor (by identity), named by the first name that reaches it: locals
    before globals (`self.fc1.weight` inside a method, before a global `net.fc1.weight`), each in the order
    its names were bound, a module's or container's tensors at the module's or container's place; the other
    names go to `TensorView.aliases` (graph leaves are named the same way). An error while looking at one
    tensor goes to `on_error` (raised without one) and that tensor is left out.
    """
    views: list[TensorView] = []
    more: list[tuple[str, int]] = []
    with torch._C.DisableTorchFunction():
        found: dict[int, tuple[torch.Tensor, str, list[str]]] = {}
        for name, t, kind in iter_named_tensors(namespace, CONTAINER_LISTED, more):
            if t.is_nested:  # (no shape to show)
                continue
            seen = found.get(id(t))
            if seen is None:
                found[id(t)] = (t, kind, [name])
            elif name not in seen[2]:
                seen[2].append(name)
        names: dict[int, str] = {key: seen[2][0] for key, seen in found.items()}
        for t, kind, tnames in found.values():
            try:
                view = stats.view(tnames[0], t, kind, device_name, tuple(tnames[1:]))
                if t.grad_fn is not None:
                    view = dataclasses.replace(view, graph=stats.graph(graph_of(t.grad_fn, names)))
                views.append(view)
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(f"engine (collect {tnames[0]})", exc)
        optimizers = tuple(
            view_optimizer(name, v, names, stats)
            for name, v in namespace.items()
            if is_a(v, torch.optim.Optimizer)
        )
    return Collected(tuple(views), optimizers, tuple(more))
