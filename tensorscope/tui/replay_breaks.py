"""Conditions and data breakpoints on a recording (`tensorscope replay`), where no frame is alive.

A replay has only what the trace recorded, so a condition there can use:
  - each one-element tensor of the Step, by its name, as a number (its recorded value: `loss < 0.1`);
  - each watched name (`trace --watch epoch`), as the value recorded for it, when that value is a literal;
and nothing else (no function of the script, no module, no other variable): a condition naming anything
else stops at its breakpoint, saying which names the recording has (as a live condition that raises does).
Data breakpoints on a recording are `tensorscope.databreaks_replay`'s.
"""

from __future__ import annotations

import ast
import math

from tensorscope.model import Step

SAFE_BUILTINS: dict[str, object] = {
    "abs": abs, "min": min, "max": max, "round": round, "int": int, "float": float, "bool": bool, "len": len,
    "True": True, "False": False, "None": None, "nan": math.nan, "inf": math.inf,
}
"""What a replayed condition may call besides the recorded names."""


def recorded_names(step: Step) -> dict[str, object]:
    """The names a replayed condition can use at `step`: one-element tensors and literal watches."""
    names: dict[str, object] = {}
    for t in step.tensors:
        if t.numel == 1 and t.stats is not None and t.name.isidentifier():
            stats = t.stats
            if stats.nan:
                names[t.name] = math.nan
            elif stats.inf:
                names[t.name] = stats.max if math.isinf(stats.max) else stats.min
            elif t.dtype.startswith(("int", "uint")) or t.dtype == "bool":
                names[t.name] = int(stats.mean)
            else:
                names[t.name] = stats.mean
    for ev in step.watches:
        if ev.kind == "value" and ev.source.isidentifier():
            try:
                names[ev.source] = ast.literal_eval(ev.text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
    return names


class ReplayConditionError(Exception):
    """A replayed condition could not be evaluated: the message is the exception it raised."""


class NotRecorded(ReplayConditionError):
    """A replayed condition names something the recording does not have."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known
        """The names the recording has at that step."""


def condition_holds(condition: str, step: Step) -> bool:
    """Whether `condition` is true over what `step` recorded. ReplayConditionError when it cannot say."""
    names = recorded_names(step)
    try:
        code = compile(condition, "<condition>", "eval")
    except SyntaxError as exc:
        raise ReplayConditionError(f"SyntaxError: {exc.msg}") from None
    for name in code.co_names:
        if name not in names and name not in SAFE_BUILTINS:
            raise NotRecorded(name, tuple(sorted(names)))
    try:
        return bool(eval(code, {"__builtins__": SAFE_BUILTINS}, names))  # noqa: S307 (the user's own)
    except Exception as exc:  # the condition raised: the breakpoint stops, saying why (as pdb does)
        raise ReplayConditionError(f"{type(exc).__name__}: {exc}") from None
