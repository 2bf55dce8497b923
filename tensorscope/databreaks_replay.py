"""Data breakpoints in a recorded trace (`tensorscope replay`): the live rules of `engine/databreaks.py`,
read from two consecutive Steps' records instead of the tensors (torch-free).

A recorded Step holds what a pause showed, so the answers are as fine as the records: values compare by
their preview (small tensors) and statistics (up to a million elements); a larger tensor counts as changed
when its `_version` moved. A tensor is compared with the previous Step only (not with the last Step that
showed it), and a name missing from either Step is no trigger.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from tensorscope.engine.stopon import StopOn
from tensorscope.model import GradView, PauseReason, Stats, Step, TensorView
from tensorscope.shapes import shape_text


def _same_number(a: float | None, b: float | None) -> bool:
    """Equal, NaN equal to NaN (a recorded NaN is read back as a new float)."""
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def _same_stats(a: Stats, b: Stats) -> bool:
    return (all(_same_number(x, y) for x, y in ((a.min, b.min), (a.max, b.max), (a.mean, b.mean),
                                                (a.std, b.std)))
            and a.nan == b.nan and a.inf == b.inf)


def _meta_change(old: TensorView, new: TensorView) -> str:
    """`shape 3 → 4`, `device cpu → cuda:0`, ... (several joined by commas); empty when the same."""
    parts = []
    if old.shape != new.shape:
        parts.append(f"shape {shape_text(old.shape)} → {shape_text(new.shape)}")
    if old.dtype != new.dtype:
        parts.append(f"dtype {old.dtype} → {new.dtype}")
    if old.device != new.device:
        parts.append(f"device {old.device} → {new.device}")
    if old.requires_grad != new.requires_grad:
        parts.append(f"requires_grad {old.requires_grad} → {new.requires_grad}")
    return ", ".join(parts)


def _values_changed(old: TensorView, new: TensorView) -> bool:
    if old.preview is not None and new.preview is not None and old.preview != new.preview:
        return True
    if old.stats is not None and new.stats is not None:
        return not _same_stats(old.stats, new.stats)
    if old.preview is not None and new.preview is not None:
        return False
    return old.version != new.version


def _grad_changed(old: GradView, new: GradView) -> bool:
    return (old.shape != new.shape or old.dtype != new.dtype or old.device != new.device
            or not _same_number(old.norm, new.norm) or old.preview != new.preview)


def _change(prev: Step, step: Step, name: str) -> PauseReason | None:
    old, new = prev.tensor(name), step.tensor(name)
    if old is None or new is None:
        return None
    detail = _meta_change(old, new) or ("values" if _values_changed(old, new) else "")
    return PauseReason("changed", name, detail) if detail else None


def _grad(prev: Step, step: Step, name: str) -> PauseReason | None:
    old, new = prev.tensor(name), step.tensor(name)
    if old is None or new is None:
        return None
    if old.grad is None:
        return None if new.grad is None else PauseReason("grad", name, "written")
    if new.grad is None:
        return PauseReason("grad", name, "set to None")
    if not _grad_changed(old.grad, new.grad):
        return None
    return PauseReason("grad", name, "zeroed" if new.grad.norm == 0 else "written")


def _nonfinite(t: TensorView | None) -> tuple[bool, bool]:
    if t is None or t.stats is None:
        return False, False
    return t.stats.nan > 0, t.stats.inf > 0


def _nan(prev: Step | None, step: Step) -> PauseReason | None:
    for t in step.tensors:
        nan, inf = _nonfinite(t)
        if not (nan or inf):
            continue
        was_nan, was_inf = _nonfinite(prev.tensor(t.name) if prev is not None else None)
        if nan and not was_nan:
            return PauseReason("nan", t.name, "NaN")
        if inf and not was_inf:
            return PauseReason("nan", t.name, "Inf")
    return None


def replay_reason(prev: Step | None, step: Step, specs: Iterable[StopOn]) -> PauseReason | None:
    """Why a replay stops at `step`, having shown `prev` (None: `step` is the first): the first data
    breakpoint of `specs` that triggers, or None."""
    for spec in specs:
        if spec.kind == "flag":
            reason = next((PauseReason("flag", f.code, f.message) for f in step.flags
                           if f.code == spec.subject), None)
        elif spec.kind == "nan":
            reason = _nan(prev, step)
        elif prev is None:
            reason = None  # (the first sight of a name is its baseline)
        elif spec.kind == "change":
            reason = _change(prev, step, spec.subject)
        else:
            reason = _grad(prev, step, spec.subject)
        if reason is not None:
            return reason
    return None
