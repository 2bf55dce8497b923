"""What changed between two Steps, as plain records (for `trace` and the TUI's narration)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tensorscope import i18n
from tensorscope.i18n import LANGS
from tensorscope.model import GradView, Step, TensorView
from tensorscope.shapes import shape_text

ChangeKind = Literal["new", "gone", "value", "grad", "shape", "dtype", "device", "grad_fn",
                     "requires_grad", "version"]


@dataclass(frozen=True)
class Change:
    """One visible difference in one tensor between two steps."""

    name: str
    kind: ChangeKind
    before: str
    after: str


def grad_text(g: GradView | None, lang: str = "en") -> str:
    """A gradient as it is shown: its values when small, else its norm."""
    if g is None:
        return "None"
    if g.preview is not None:
        return g.preview
    w = i18n.table(lang, "narrate")
    return (w["grad_norm"].format(shape=shape_text(g.shape), norm=f"{g.norm:.4g}") if g.norm is not None
            else w["grad_set"])


def value_text(t: TensorView, lang: str = "en") -> str:
    """A tensor's values when small, else a short summary."""
    if t.preview is not None:
        return t.preview
    if t.stats is not None:
        return i18n.table(lang, "narrate")["values_summary"].format(mean=f"{t.stats.mean:.4g}",
                                                                     std=f"{t.stats.std:.4g}")
    return f"{t.shape_text} {t.dtype}"


def describe(t: TensorView) -> str:
    """The values, then the metadata: `= [[0.34]]: 1×1 float32 cpu requires_grad` (values last would read
    as the value of the last word)."""
    parts = [t.shape_text, t.dtype, t.device]
    if t.requires_grad:
        parts.append("requires_grad")
    if t.grad_fn:
        parts.append(f"grad_fn={t.grad_fn}")
    return f"= {value_text(t)}: " + " ".join(parts)


def diff_steps(before: Step | None, after: Step, lang: str = "en") -> list[Change]:
    """Changes in the tensors in scope from `before` to `after` (same frame: also what left scope), their
    values written in `lang`."""
    old = {t.name: t for t in before.tensors} if before is not None else {}
    known = {n: t for t in (before.tensors if before is not None else ()) for n in (t.name, *t.aliases)}
    changes: list[Change] = []
    for t in after.tensors:
        o = next((known[n] for n in (t.name, *t.aliases) if n in known), None)  # (an alias: same tensor)
        if o is None:
            changes.append(Change(t.name, "new", "", describe(t)))
        else:
            changes.extend(_tensor_changes(o, t, lang))
        same = i18n.table(lang, "narrate")["same_tensor"]
        changes.extend(Change(a, "new", "", same.format(name=t.name)) for a in t.aliases if a not in known)
    same_frame = before is not None and before.function == after.function and before.depth == after.depth
    if same_frame:
        names = {n for t in after.tensors for n in (t.name, *t.aliases)}
        changes.extend(Change(n, "gone", "", "") for n in old if n not in names)
    return changes


def _tensor_changes(o: TensorView, t: TensorView, lang: str = "en") -> list[Change]:
    out: list[Change] = []
    for field in ("shape", "dtype", "device", "requires_grad"):
        a, b = getattr(o, field), getattr(t, field)
        if a != b:
            fmt = shape_text if field == "shape" else str
            out.append(Change(t.name, field, fmt(a), fmt(b)))  # type: ignore[arg-type]
    if o.grad_fn != t.grad_fn:
        out.append(Change(t.name, "grad_fn", o.grad_fn or "None", t.grad_fn or "None"))
    if value_text(o) != value_text(t) or (o.version != t.version and t.preview is None):
        out.append(Change(t.name, "value", value_text(o, lang), value_text(t, lang)))
    if o.version != t.version:
        out.append(Change(t.name, "version", str(o.version), str(t.version)))
    if grad_text(o.grad) != grad_text(t.grad):
        out.append(Change(t.name, "grad", grad_text(o.grad, lang), grad_text(t.grad, lang)))
    return out


# --- narration: "what just happened", in plain words ------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {lang: i18n.table(lang, "narrate") for lang in LANGS}
"""The narration's words per language: table `narrate` of tensorscope/i18n/*.toml."""

_SHORT = 40
"""Values longer than this are cut in narration."""


def _short(text: str, limit: int = _SHORT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MANY = 4
"""Past this many tensors in one sentence, the rest are named without their shapes, or counted."""


def _names_and_more(names: list[str], w: dict[str, str]) -> list[str]:
    """Up to `_MANY` names; past that the first few and "N more" (a complete list, never cut)."""
    if len(names) <= _MANY:
        return names
    return names[:_MANY - 1] + [w["more_in_scope"].format(n=len(names) - _MANY + 1)]


def _join(items: list[str], w: dict[str, str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return w["sep"].join(items[:-1]) + w["and"] + items[-1]


def _all_zero(g: GradView | None) -> bool:
    if g is None:
        return False
    if g.norm is not None:
        return g.norm == 0
    return g.preview is not None and all(tok in ("0", "") for tok in _numbers(g.preview))


def _numbers(preview: str) -> list[str]:
    return [tok.strip() for tok in preview.replace("[", " ").replace("]", " ").split(",")]


def same_frame_before(steps: list[Step] | tuple[Step, ...], index: int) -> Step | None:
    """The latest step before `index` in the same call as steps[index] (None when it just began).

    What a pane compares against: after a call returns, the caller's step before the call, not the
    callee's last line; on entering a function, nothing (everything in its scope is new).
    """
    if not 0 < index < len(steps):
        return None
    after = steps[index]
    for j in range(index - 1, -1, -1):
        s = steps[j]
        if s.depth < after.depth:
            return None
        if s.depth == after.depth and s.event != "return":
            same = s.function == after.function and s.file == after.file
            return s if same else None
    return None


def narrate(before: Step | None, after: Step, lang: str = "en", *, baseline: Step | None = None,
            ran: str = "") -> list[str]:
    """What just happened between two consecutive pauses, as short plain sentences, most telling first.

    `before` is the previous pause; `baseline` the previous pause in the same call (default: `before`
    when both are in the same frame); `ran` the source text of the line just executed.
    """
    w = i18n.table(lang, "narrate")
    out: list[str] = []
    if after.exception is not None:  # the exception is the news; what else changed is noise
        e = after.exception
        return [w["raised"].format(line=e.line, type=e.type, message=_short(e.message, 120))]
    r = after.raised
    if r is not None and r.caught_line is not None:  # the jump to the handler is the news, then the rest
        out.append(w["caught"].format(line=r.line, type=r.type, caught=r.caught_line,
                                      message=_short(r.message, 120)))
    if before is None:
        return out
    if not ran and before.stack and before.stack[-1].line == before.line:
        ran = before.stack[-1].code
    entered = after.depth > before.depth and after.event != "exception"
    if entered:
        names = _names_and_more([t.name for t in after.tensors], w)
        out.append(w["entered_with"].format(function=after.function, names=_join(names, w))
                   if names else w["entered"].format(function=after.function))
        return out
    if after.depth < before.depth:
        key = "yielded" if is_yield(before) else "returned"
        out.append(w[key].format(function=before.function))
    if after.event == "end":
        out.append(w["finished"])
    if before.inference_mode != after.inference_mode:
        out.append(w["inference_on"] if after.inference_mode else w["inference_off"])
    elif before.grad_enabled and not after.grad_enabled:
        out.append(w["grad_off"])
    elif after.grad_enabled and not before.grad_enabled:
        out.append(w["grad_on"])
    base = baseline
    if base is None and before.depth == after.depth and before.function == after.function:
        base = before
    if base is not None:
        out.extend(_narrate_changes(base, after, w, "backward" in ran))
    if not out:
        printed = after.stdout.strip().splitlines()
        out.append(w["printed"].format(text=repr(_short(printed[0], 60))) if printed else w["nothing"])
    return out


def is_yield(step: Step) -> bool:
    """Whether a `return` Step is a generator's `yield` (its line says yield), not the end of the call."""
    if step.event != "return" or not step.stack:
        return False
    return re.search(r"\byield\b", step.stack[-1].code) is not None


def _narrate_changes(base: Step, after: Step, w: dict[str, str], ran_backward: bool) -> list[str]:
    changes = diff_steps(base, after)
    old = {t.name: t for t in base.tensors}
    now = {t.name: t for t in after.tensors}
    grads_wrote: list[str] = []
    grads_zeroed: list[str] = []
    grads_cleared: list[str] = []
    grad_lines: list[str] = []
    inplace: list[str] = []
    created: list[TensorView] = []
    other: list[str] = []
    bumps = _version_bumps(changes)
    inplace_names = set(bumps)
    written = [n for n in bumps if n in old and n in now and value_text(old[n]) != value_text(now[n])]
    for c in changes:
        t, o = now.get(c.name), old.get(c.name)
        if c.kind == "new" and t is not None:
            created.append(t)
        elif c.kind == "grad" and t is not None and o is not None:
            if t.grad is None:
                grads_cleared.append(f"{c.name}.grad")
            elif _all_zero(t.grad) and not _all_zero(o.grad):
                grads_zeroed.append(f"{c.name}.grad")
            elif ran_backward and (o.grad is None or _all_zero(o.grad)):
                grads_wrote.append(f"{c.name}.grad = {c.after}" if len(c.after) <= _SHORT
                                   else f"{c.name}.grad ({shape_text(t.grad.shape)})")  # (never `… and`)
            elif ran_backward:
                grad_lines.append(w["backward_added"].format(
                    name=c.name, before=_short(c.before), after=_short(c.after)))
            else:
                grad_lines.append(w["grad_changed"].format(
                    name=c.name, before=_short(c.before), after=_short(c.after)))
        elif c.kind == "version" and c.name in bumps and t is not None and o is not None:
            others = [n for n in written if n != c.name and bumps[n] == bumps[c.name]]
            inplace.append(_version_sentence(c, o, t, others, w, after))
        elif c.kind == "value" and c.name not in inplace_names and t is not None:
            if t.preview is not None and len(c.after) <= _SHORT:
                other.append(w["new_value"].format(name=c.name, after=c.after, before=_short(c.before, 24)))
            else:
                other.append(w["new_values"].format(name=c.name, shape=t.shape_text))
        elif c.kind == "device":
            other.append(w["moved"].format(name=c.name, before=c.before, after=c.after))
        elif c.kind == "dtype":
            other.append(w["retyped"].format(name=c.name, before=c.before, after=c.after))
        elif c.kind == "shape":
            other.append(w["reshaped"].format(name=c.name, before=c.before, after=c.after))
        elif c.kind == "requires_grad":
            key = "requires_grad_on" if c.after == "True" else "requires_grad_off"
            other.append(w[key].format(name=c.name))
        elif c.kind == "grad_fn" and c.after != "None":
            other.append(w["grad_fn"].format(name=c.name, after=c.after))
    out: list[str] = []
    if grads_wrote:
        if len(grads_wrote) > 2:  # the names only (the values are in the table), all of them or counted
            grads_wrote = _names_and_more([g.split(" ", 1)[0] for g in grads_wrote], w)
        out.append(w["backward_wrote"].format(items=_join(grads_wrote, w)))
    out.extend(grad_lines)
    if grads_zeroed:
        out.append(w["grad_zeroed"].format(names=_join(_names_and_more(grads_zeroed, w), w)))
    if grads_cleared:
        out.append(w["grad_cleared"].format(names=_join(_names_and_more(grads_cleared, w), w)))
    out.extend(inplace)
    if len(created) == 1:
        out.append(w["created_one"].format(name=created[0].name, what=_what(created[0], w)))
    elif created:
        items = [w["short_of" if len(t.shape) < 2 else "shape_of"].format(name=t.name, shape=t.shape_text)
                 for t in created]  # (`b (shape 1)`, `c (shape ())`: a bare `(1)` could read as a value)
        if len(created) > _MANY:  # the rest by name only, or counted when many: a complete sentence
            rest = [t.name for t in created[_MANY - 1:]]
            more = w["and_more"].format(n=len(rest), names=w["sep"].join(rest)) if len(rest) <= _MANY \
                else w["more_in_scope"].format(n=len(rest))
            items = items[:_MANY - 1] + [more]
        out.append(w["created_many"].format(items=_join(items, w)))
    out.extend(other)
    return out


def _version_bumps(changes: list[Change]) -> dict[str, tuple[str, str]]:
    """Tensors whose version went up, with (before, after); a lower version is another tensor bound to the
    name, not an in-place change."""
    return {c.name: (c.before, c.after) for c in changes
            if c.kind == "version" and int(c.after) > int(c.before)}


def _version_sentence(c: Change, o: TensorView, t: TensorView, others: list[str], w: dict[str, str],
                      after: Step) -> str:
    """One tensor's version moved: changed in place when its values did, else say what else can move it.

    A view shares its base's version counter, so writing the base (or another view of it) moves the
    version of a view whose own values did not change; `others` are the tensors in scope whose version
    moved the same way and whose values changed.
    """
    where = (w["under_inference"] if after.inference_mode else w["under_no_grad"] if not after.grad_enabled
             else "")
    if value_text(o) != value_text(t) and o.preview is None and o.stats is not None and t.stats is not None:
        return w["inplace_mean"].format(name=c.name, v0=c.before, v1=c.after, where=where,  # (no cut numbers)
                                        before=f"{o.stats.mean:.4g}", after=f"{t.stats.mean:.4g}")
    if value_text(o) != value_text(t):
        return w["inplace"].format(name=c.name, v0=c.before, v1=c.after, where=where,
                                   before=_short(value_text(o), 24), after=_short(value_text(t), 24))
    known = o.preview is not None and t.preview is not None
    if others:
        text = w["inplace_shared"].format(name=c.name, v0=c.before, v1=c.after, others=_join(others, w))
        return text + (w["values_same"] if known else "")
    key = "inplace_same" if known else "inplace_short"
    return w[key].format(name=c.name, v0=c.before, v1=c.after, where=where)


def _what(t: TensorView, w: dict[str, str]) -> str:
    shape = w["shape_word"].format(shape=t.shape_text) if len(t.shape) < 2 else t.shape_text
    parts = [shape, t.dtype]
    if t.grad_fn:
        parts.append(f"grad_fn {t.grad_fn}")
    elif t.requires_grad:
        parts.append("requires_grad")
    text = w["sep"].join(parts)
    if t.preview is not None and len(t.preview) <= 24:
        return f"{t.preview} — {text}"  # (the values first: `requires_grad = [[1.5]]` would misread)
    return text
