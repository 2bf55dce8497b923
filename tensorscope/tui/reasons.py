"""Why the run paused where stepping alone would not have (Step.reason), in words: the one place that
renders a PauseReason (the status bar shows it; the words are `reason_*` in the language files)."""

from __future__ import annotations

from tensorscope.model import PauseReason, Step
from tensorscope.tui.words import words


def reason_text(reason: PauseReason | None, step: Step | None = None, lang: str = "en") -> str:
    """One line: `paused: condition epoch == 3 at line 30`, `paused: w changed (value)`, `post-mortem:
    RuntimeError: …`; empty when there is no reason."""
    if reason is None:
        return ""
    w = words(lang)
    key = "reason_condition" if reason.kind == "breakpoint" and reason.subject else \
        f"reason_{reason.kind.replace('-', '_')}"
    if not reason.subject and f"{key}_any" in w:
        key = f"{key}_any"  # (nan: any tensor in scope)
    if not reason.detail and f"{key}_plain" in w:
        key = f"{key}_plain"
    template = w.get(key, w["reason_other"])
    line = step.line if step is not None else 0
    detail = _detail(reason, w) if reason.kind in ("changed", "grad", "nan") else reason.detail
    return template.format(kind=reason.kind, subject=reason.subject, detail=detail, line=line)


def _detail(reason: PauseReason, w: dict[str, str]) -> str:
    """A data breakpoint's detail (the engine's fixed words: `values`, `shape 3 → 4`, `written`, ...) in the
    chosen language; the values themselves (shapes, devices, dtypes) stay as they are."""
    parts = []
    for part in reason.detail.split(", ") if reason.detail else ():
        whole = w.get(f"detail_{part.replace(' ', '_').lower()}")
        if whole is not None:
            parts.append(whole)
            continue
        head, sep, rest = part.partition(" ")
        parts.append(f"{w.get(f'detail_{head}', head)}{sep}{rest}")
    return w["detail_sep"].join(parts)
