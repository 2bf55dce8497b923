"""Data breakpoints as text: what `--stop-on` takes and the engine protocol carries (torch-free).

    change:NAME   the tensor NAME changes: its values, shape, dtype, device or requires_grad
    grad:NAME     NAME's `.grad` is written, accumulated into, zeroed or set to None
    nan           a tensor in scope holds a NaN or an infinity it did not hold at the last line
    flag:CODE     a flag CODE is raised (a check's code, as `tensorscope check` prints it)

NAME is a name in the paused frame's scope (`w`), or a dotted path of attributes and module children
(`model.fc.weight`, `net.0.weight` for a Sequential's child), read without running the script's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

StopKind = Literal["change", "grad", "nan", "flag"]
KINDS: tuple[str, ...] = ("change", "grad", "nan", "flag")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*\Z")
_CODE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*\Z")


@dataclass(frozen=True)
class StopOn:
    """One data breakpoint."""

    kind: StopKind
    subject: str = ""
    """The tensor's name (change, grad) or the flag's code (flag); empty for nan."""

    def __str__(self) -> str:
        return self.kind if not self.subject else f"{self.kind}:{self.subject}"


def parse(text: str, flag_codes: tuple[str, ...] | None = None) -> StopOn:
    """Read one data breakpoint (`grad:w`, `change:model.fc.weight`, `nan`, `flag:device-mismatch`).

    Raises ValueError with a message a user can act on. `flag_codes`: the known codes, to refuse a typo.
    """
    raw = text.strip()
    kind, sep, subject = raw.partition(":")
    kind, subject = kind.strip().lower(), subject.strip()
    if kind == "nan" and not subject:
        return StopOn("nan")
    if kind not in KINDS or not sep:
        raise ValueError(f"cannot read {raw!r}: expected change:NAME, grad:NAME, nan or flag:CODE")
    if kind == "nan":
        raise ValueError(f"cannot read {raw!r}: nan takes no name (it watches every tensor in scope)")
    if kind == "flag":
        if not _CODE.match(subject):
            raise ValueError(f"cannot read {raw!r}: expected flag:CODE, e.g. flag:device-mismatch")
        if flag_codes is not None and subject not in flag_codes:
            raise ValueError(f"unknown flag code {subject!r}; known codes: {', '.join(sorted(flag_codes))}")
        return StopOn("flag", subject)
    if not _NAME.match(subject):
        raise ValueError(f"cannot read {raw!r}: expected {kind}:NAME, where NAME is a name such as w or "
                         "model.fc.weight")
    return StopOn(kind, subject)  # type: ignore[arg-type]


def parse_all(texts: tuple[str, ...] | list[str],
              flag_codes: tuple[str, ...] | None = None) -> tuple[StopOn, ...]:
    """Every data breakpoint of `texts`, each once, in order."""
    seen: dict[StopOn, None] = {}
    for t in texts:
        seen.setdefault(parse(t, flag_codes), None)
    return tuple(seen)
