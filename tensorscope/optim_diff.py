"""What changed in an optimizer between two pauses, and the state it keeps for a tensor: plain text from
OptimizerViews (no UI library), for the Inspector and the `trace` report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tensorscope.model import OptimizerParam, OptimizerView, StateEntry, Step, TensorView
from tensorscope.tui.words import words

PICK_PREFIX = "optimizer:"
"""The Tensors table's row key (and Picked name) for an optimizer: `optimizer:opt`."""
SEARCH_BACK = 5000
"""How many recorded Steps back the last change of an optimizer is looked for."""


@dataclass(frozen=True)
class Change:
    """What changed an optimizer between two recorded Steps: the line that ran, and the differences."""

    line: int | None
    """The line whose run made the change (the later Step's `prev_line`)."""
    steps_ago: int
    """0: the Step on screen is the one right after it."""
    lines: tuple[str, ...]


def chosen_optimizer(step: Step, chosen: str | None) -> OptimizerView | None:
    """The optimizer the user picked (`optimizer:NAME`), if it is in scope at this step."""
    if not chosen or not chosen.startswith(PICK_PREFIX):
        return None
    name = chosen[len(PICK_PREFIX):]
    return next((o for o in step.optimizers if o.name == name), None)


def _find(step: Step, name: str) -> OptimizerView | None:
    return next((o for o in step.optimizers if o.name == name), None)


def last_change(steps: Sequence[Step], index: int, name: str, lang: str = "en") -> Change | None:
    """The most recent change of optimizer `name` at or before `steps[index]` (None: none recorded)."""
    after = _find(steps[index], name) if 0 <= index < len(steps) else None
    if after is None:
        return None
    for k in range(index, max(0, index - SEARCH_BACK), -1):
        before = _find(steps[k - 1], name)
        if before is None:
            return None  # it came into scope here: nothing to compare with
        if before is not after and before != after:
            return Change(steps[k].prev_line, index - k, tuple(diff_lines(before, after, lang)))
        after = before
    return None


def param_label(p: OptimizerParam, i: int, lang: str) -> str:
    return p.name or words(lang)["ov_param_n"].format(i=i)


def entry_text(e: StateEntry | None) -> str:
    if e is None:
        return "—"
    if e.norm is not None:
        return f"{e.norm:.4g}"
    return e.value if e.value is not None else "?"


def diff_lines(before: OptimizerView, after: OptimizerView, lang: str = "en") -> list[str]:
    """`step 3 → 4`, `lr 0.1 → 0.05`, `w exp_avg ‖·‖ 0.12 → 0.1`: what differs, one change per line."""
    w = words(lang)
    out: list[str] = []
    if before.step != after.step:
        out.append(f"{w['ov_step']} {before.step if before.step is not None else '—'} → {after.step}")
    many = len(after.groups) > 1
    for gi, (g0, g1) in enumerate(zip(before.groups, after.groups, strict=False)):
        old = {h.name: h.value for h in g0.hyper}
        for h in g1.hyper:
            if old.get(h.name, h.value) != h.value:
                where = f"{w['ov_group'].format(i=gi)} " if many else ""
                out.append(f"{where}{h.name} {old[h.name]} → {h.value}")
    olds = {(p.name, i): p for i, p in enumerate(before.params)}
    for i, p in enumerate(after.params):
        q = olds.get((p.name, i))
        q_state = {e.key: e for e in q.state} if q is not None else {}
        for e in p.state:
            e0 = q_state.get(e.key)
            if e0 != e:
                norm = " ‖·‖" if e.norm is not None else ""
                out.append(f"{param_label(p, i, lang)} {e.key}{norm} {entry_text(e0)} → {entry_text(e)}")
    return out


def state_lines(t: TensorView, optimizers: Sequence[OptimizerView], lang: str = "en") -> list[str]:
    """`Adam state (opt): exp_avg ‖·‖ 0.12, exp_avg_sq ‖·‖ 0.003, step 4`, per optimizer updating `t`."""
    w = words(lang)
    names = {t.name, *t.aliases}
    out: list[str] = []
    for opt in optimizers:
        for p in opt.params:
            if p.name and p.name in names:
                items = [f"{e.key}{' ‖·‖' if e.norm is not None else ''} {entry_text(e)}" for e in p.state]
                if p.step is not None:
                    items.append(f"{w['ov_step']} {p.step}")
                state = ", ".join(items) if items else w["ov_no_state"]
                out.append(f"{w['ov_state_of'].format(type=opt.type, name=opt.name)}: {state}")
                break
    return out


NOTE_LINES = 4
"""How many of an optimizer's changes one pause of the `trace` report lists."""


def optimizer_notes(prev: Step | None, step: Step, lang: str = "en") -> list[str]:
    """The `trace` report's lines for optimizers: `+ opt: Adam, 2 tensors` when one comes into scope,
    `~ opt: step 1 → 2` and its state's changes when a pause finds it changed."""
    w = words(lang)
    out: list[str] = []
    for opt in step.optimizers:
        before = _find(prev, opt.name) if prev is not None else None
        if before is None:
            out.append(f"+ {opt.name}: {opt.type}, {w['ov_tensors'].format(n=opt.param_count)}")
        elif before is not opt and before != opt:
            lines = diff_lines(before, opt, lang)
            out.extend(f"~ {opt.name}: {line}" for line in lines[:NOTE_LINES])
            if len(lines) > NOTE_LINES:
                out.append(f"~ {opt.name}: {w['ov_more_changes'].format(n=len(lines) - NOTE_LINES)}")
    return out
