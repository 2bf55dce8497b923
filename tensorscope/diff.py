"""What changed between two Steps, as plain records (for `trace` and the TUI's narration)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tensorscope.model import GradView, Step, TensorView

ChangeKind = Literal["new", "gone", "value", "grad", "shape", "dtype", "device", "grad_fn",
                     "requires_grad", "version"]


@dataclass(frozen=True)
class Change:
    """One visible difference in one tensor between two steps."""

    name: str
    kind: ChangeKind
    before: str
    after: str


def grad_text(g: GradView | None) -> str:
    """A gradient as it is shown: its values when small, else its norm."""
    if g is None:
        return "None"
    if g.preview is not None:
        return g.preview
    return f"{'×'.join(map(str, g.shape)) or '()'} (norm {g.norm:.4g})" if g.norm is not None else "set"


def value_text(t: TensorView) -> str:
    """A tensor's values when small, else a short summary."""
    if t.preview is not None:
        return t.preview
    if t.stats is not None:
        return f"mean {t.stats.mean:.4g}, std {t.stats.std:.4g}"
    return f"{t.shape_text} {t.dtype}"


def describe(t: TensorView) -> str:
    """One line of metadata: `1×1 float32 cpu requires_grad = [[0.34]]`."""
    parts = [t.shape_text, t.dtype, t.device]
    if t.requires_grad:
        parts.append("requires_grad")
    if t.grad_fn:
        parts.append(f"grad_fn={t.grad_fn}")
    return " ".join(parts) + f" = {value_text(t)}"


def diff_steps(before: Step | None, after: Step) -> list[Change]:
    """Changes in the tensors in scope from `before` to `after` (same frame: also what left scope)."""
    old = {t.name: t for t in before.tensors} if before is not None else {}
    changes: list[Change] = []
    for t in after.tensors:
        o = old.get(t.name)
        if o is None:
            changes.append(Change(t.name, "new", "", describe(t)))
            continue
        changes.extend(_tensor_changes(o, t))
    same_frame = before is not None and before.function == after.function and before.depth == after.depth
    if same_frame:
        names = {t.name for t in after.tensors}
        changes.extend(Change(n, "gone", "", "") for n in old if n not in names)
    return changes


def _tensor_changes(o: TensorView, t: TensorView) -> list[Change]:
    out: list[Change] = []
    for field in ("shape", "dtype", "device", "requires_grad"):
        a, b = getattr(o, field), getattr(t, field)
        if a != b:
            fmt = (lambda s: "×".join(map(str, s)) or "()") if field == "shape" else str
            out.append(Change(t.name, field, fmt(a), fmt(b)))  # type: ignore[arg-type]
    if o.grad_fn != t.grad_fn:
        out.append(Change(t.name, "grad_fn", o.grad_fn or "None", t.grad_fn or "None"))
    if value_text(o) != value_text(t) or (o.version != t.version and t.preview is None):
        out.append(Change(t.name, "value", value_text(o), value_text(t)))
    if o.version != t.version:
        out.append(Change(t.name, "version", str(o.version), str(t.version)))
    if grad_text(o.grad) != grad_text(t.grad):
        out.append(Change(t.name, "grad", grad_text(o.grad), grad_text(t.grad)))
    return out
