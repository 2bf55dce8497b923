"""OptimizerViews: an optimizer's groups, step count and state per parameter, read without running its code.

Only the optimizer's own `param_groups` and `state` are read (through `object.__getattribute__` on its
`__dict__`, and `dict` methods on their entries), so a script's property or `__getattr__` never runs.
State tensors' norms are cached by identity and version: a tensor that did not change is not summed again
(fused optimizers do not bump `_version`, so their state is summed at every pause).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch

from tensorscope.engine.values import format_number, is_a
from tensorscope.model import HyperParam, OptimizerGroup, OptimizerParam, OptimizerView, StateEntry

OPTIMIZER_PARAMS = 64
"""How many of an optimizer's tensors are listed with their state."""
STATE_ENTRIES = 8
"""How many state entries are kept per tensor."""
_NUMBERS = (bool, int, float)


def _own(obj: Any) -> dict[str, Any]:
    """The object's instance dict, without calling its class's attribute hooks."""
    try:
        d = object.__getattribute__(obj, "__dict__")
    except Exception:
        return {}
    return d if is_a(d, dict) else {}


def _scalar(value: Any) -> float | int | bool | None:
    """A plain number, or the value of a one-element tensor (None otherwise)."""
    if type(value) in _NUMBERS:
        return value  # type: ignore[no-any-return]
    if is_a(value, torch.Tensor) and torch.Tensor.numel(value) == 1 and not value.is_complex():
        if value.device.type == "meta":
            return None
        item = torch.Tensor.item(value)
        return item if type(item) in _NUMBERS else None  # type: ignore[no-any-return]
    return None


def hyper_value(value: Any) -> str | None:
    """A group entry as text: numbers, flags, None, short strings, tuples of numbers (`betas`)."""
    if value is None:
        return "None"
    if type(value) is str:
        return value if len(value) <= 40 else None
    if type(value) in (tuple, list) and 0 < len(value) <= 4:
        items = [_scalar(v) for v in value]
        if all(i is not None for i in items):
            return "(" + ", ".join(format_number(i) for i in items if i is not None) + ")"
        return None
    number = _scalar(value)
    return format_number(number) if number is not None else None


class NormCache:
    """L2 norms of state tensors by (identity, storage, version), each entry holding a weak reference."""

    def __init__(self, size: int = 4096) -> None:
        self._norms: dict[tuple[int, int, int], tuple[weakref.ref[torch.Tensor], float | None]] = {}
        self._size = size
        self.views: dict[tuple[str, int], OptimizerView] = {}
        """The last view of each optimizer: returned again while nothing it shows changed."""

    def norm(self, t: torch.Tensor, fused: bool) -> float | None:
        if not t.is_floating_point() or t.is_sparse or t.device.type == "meta" or t.numel() == 0:
            return None
        key = (id(t), t.data_ptr(), t._version)
        hit = None if fused else self._norms.get(key)
        if hit is not None and hit[0]() is t:
            return hit[1]
        try:
            value: float | None = _norm(t)
        except RuntimeError:  # a device or layout the norm does not support: shown as not computed
            value = None
        if not fused:
            if len(self._norms) >= self._size:
                self._norms.clear()
            self._norms[key] = (weakref.ref(t), value)
        return value


def _norm(t: torch.Tensor) -> float:
    """The L2 norm, summed in the tensor's own precision (float32 at least: a hundred times faster than in
    float64), again in float64 when that overflows."""
    with torch.no_grad():
        x = t.detach()
        wide = x.dtype in (torch.float32, torch.float64)
        value = float(torch.linalg.vector_norm(x, dtype=None if wide else torch.float32))
        if math.isinf(value):
            value = float(torch.linalg.vector_norm(x, dtype=torch.float64))
        return value


_CACHES: weakref.WeakKeyDictionary[Any, NormCache] = weakref.WeakKeyDictionary()


def cache_for(owner: Any) -> NormCache:
    """The NormCache that lives as long as `owner` (a run's StatsCache)."""
    cache = _CACHES.get(owner)
    if cache is None:
        cache = _CACHES[owner] = NormCache()
    return cache


def _state_entries(entry: Any, fused: bool,
                   norms: NormCache | None) -> tuple[int | None, tuple[StateEntry, ...]]:
    """(its `step`, its other entries) from one parameter's state dict (only the step without `norms`)."""
    if not is_a(entry, dict):
        return None, ()
    step: int | None = None
    out: list[StateEntry] = []
    for key, value in dict.items(entry):
        if type(key) is not str:
            continue
        if key == "step":
            number = _scalar(value)
            step = int(number) if number is not None and math.isfinite(number) else None
            continue
        if norms is None or len(out) >= STATE_ENTRIES:
            continue
        if is_a(value, torch.Tensor):
            number = _scalar(value)
            out.append(StateEntry(key, norms.norm(value, fused),
                                  format_number(number) if number is not None else None))
        elif type(value) in _NUMBERS:
            out.append(StateEntry(key, None, format_number(value)))
    return step, tuple(out)


def view_optimizer(name: str, opt: torch.optim.Optimizer, names: dict[int, str] | None = None,
                   owner: Any = None) -> OptimizerView:
    """The optimizer's groups, step count and per-parameter state (its tensors named from `names`)."""
    norms = cache_for(owner) if owner is not None else NormCache()
    own = _own(opt)
    groups_raw = own.get("param_groups")
    groups_raw = list.__iter__(groups_raw) if is_a(groups_raw, list) else ()
    state_raw = own.get("state")
    states = {id(k): v for k, v in dict.items(state_raw)} if is_a(state_raw, dict) else {}
    names = names or {}
    groups: list[OptimizerGroup] = []
    params: list[OptimizerParam] = []
    count = 0
    lr: float | None = None
    step: int | None = None
    for gi, group in enumerate(groups_raw):
        if not is_a(group, dict):
            continue
        tensors: list[Any] = []
        hyper = []
        fused = False
        for key, value in dict.items(group):  # (keys compared only once known to be str: no script code)
            if type(key) is not str:
                continue
            if key == "params":
                tensors = list(value) if type(value) in (list, tuple) else []
                continue
            fused = fused or (key == "fused" and value is True)
            if key == "lr" and gi == 0:
                number = _scalar(value)
                lr = float(number) if number is not None else None
            text = hyper_value(value)
            if text is not None:
                hyper.append(HyperParam(key, text))
        groups.append(OptimizerGroup(len(tensors), tuple(hyper)))
        for p in tensors:
            count += 1
            if not is_a(p, torch.Tensor):
                continue
            listed = len(params) < OPTIMIZER_PARAMS
            p_step, entries = _state_entries(states.get(id(p)), fused, norms if listed else None)
            if p_step is not None:
                step = p_step if step is None else max(step, p_step)
            if listed:
                params.append(OptimizerParam(names.get(id(p), ""), gi, tuple(p.shape), p_step, entries))
    view = OptimizerView(name=name, type=type(opt).__name__, lr=lr, param_count=count, groups=tuple(groups),
                         step=step, params=tuple(params), more=max(0, count - len(params)))
    key = (name, id(opt))
    old = norms.views.get(key)
    if old == view:
        return old  # type: ignore[return-value]
    if len(norms.views) >= 64:
        norms.views.clear()
    norms.views[key] = view
    return view
