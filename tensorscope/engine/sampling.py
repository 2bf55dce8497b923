"""Which passes of the user's loops `tensorscope check` looks at: every pass at first, then one in a few.

A training loop runs the same lines thousands of times, and the classic mistakes show in its first
passes (a forgotten `zero_grad()`, float64 data, a device mix) or persist once they appear (NaN, a
graph kept alive). So `check` observes every pass of a loop up to `FULL_PASSES`, then one pass in
`EVERY`: in the passes between, the loop's lines and the user's functions it calls run unobserved,
except a line's own first `FULL_PASSES` runs (a branch taken every 100th step, a logging line), which
are observed with the rest of their pass. (On 3.11 the functions an unobserved pass calls run untraced:
a line inside them is seen in observed passes only.)
On Python 3.12+ their events are switched off where they fire (`sys.monitoring.DISABLE`), so they run at
full speed, and switched back on (`restart_events`) for the next observed pass. Only the loop's first
line (its header) keeps reporting, to count passes. An exception, leaving the loop, or the loop's frame
returning ends an unobserved stretch at once; the monitors then catch up on what persists (`on_resume`:
a NaN the loop produced is still in the names its lines bind).

A loop is a `for` or `while` statement of the source (a comprehension is one step, not a loop here).
Its header line reports once per pass on every Python version: a `for` line as it takes the next item,
a `while` line as its test runs (at the top or, 3.12+, the copy at the bottom; `while True:` included).
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable

FULL_PASSES = 20
"""Every pass of a loop up to this many is observed."""
EVERY = 64
"""After that, one pass in this many is."""

OBSERVE = 0
"""The line runs observed."""
WAKE = 1
"""The line runs observed, and ends an unobserved stretch: switch events back on first."""
DARK = 2
"""The line runs unobserved (its event may be switched off)."""
COUNT = 3
"""An unobserved pass starts at the loop's header: keep its event, do nothing else."""
GO_DARK = 4
"""Observe this header line, then the pass it starts runs unobserved."""


def loops_in(source: str) -> dict[int, frozenset[int]]:
    """The loops of a file: header line -> the lines of its body (nested loops' included, the header's
    too). A loop written on one line has no body of its own here."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    loops: dict[int, frozenset[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            end = node.end_lineno or node.lineno
            if end > node.lineno:
                loops[node.lineno] = frozenset(range(node.lineno, end + 1))
    return loops


class PassSampler:
    """Decides, line by line, whether the run observes it (see the module's docstring). One per run."""

    def __init__(self, loops: Callable[[types.CodeType], dict[int, frozenset[int]]],
                 full: int = FULL_PASSES, every: int = EVERY) -> None:
        self._loops_of = loops
        """The loops of a code object's file (`loops_in` of its source, cached by the caller)."""
        self.full = full
        self.every = every
        self._passes: dict[tuple[str, int], int] = {}
        """Passes counted, per (file, header line). (Keys are files: hashing a code object is slow.)"""
        self._seen: dict[tuple[str, int], int] = {}
        """Observed runs, per (file, statement line): a line's first `full` runs are always observed."""
        self.frame: types.FrameType | None = None
        """The frame of the loop whose pass runs unobserved now (None: everything is observed)."""
        self._header = 0
        self._body: frozenset[int] = frozenset()
        self.unobserved_passes = 0
        """Passes that ran unobserved so far."""
        self.ended: tuple[types.FrameType, frozenset[int]] | None = None
        """(frame, body lines) of the loop whose unobserved stretch just ended."""

    def line(self, frame: types.FrameType, start: int) -> int:
        """What to do with a line event at statement `start` of `frame`: one of the constants above."""
        dark = self.frame
        file = frame.f_code.co_filename
        key = (file, start)
        woke = False
        if dark is not None:
            if frame is dark and start == self._header:
                if self._skips(file, start):
                    self.unobserved_passes += 1
                    return COUNT
            else:
                inside = start in self._body if frame is dark else self.below(frame)
                if inside and self._seen.get(key, 0) >= self.full:
                    return DARK
            # the next pass is observed, or one of a line's first runs (observed with the rest of its
            # pass), or the loop is over, or its frame is gone without us seeing it leave
            self.end()
            woke = True
            if frame is dark and start == self._header:
                self._seen[key] = self._seen.get(key, 0) + 1
                return WAKE
        self._seen[key] = self._seen.get(key, 0) + 1
        loops = self._loops_of(frame.f_code)
        if start in loops and self._skips(file, start):
            self.frame, self._header, self._body = frame, start, loops[start]
            self.unobserved_passes += 1
            return GO_DARK
        return WAKE if woke else OBSERVE

    def _skips(self, file: str, header: int) -> bool:
        """Count a pass of the loop at `header`; whether it runs unobserved."""
        key = (file, header)
        n = self._passes.get(key, 0) + 1
        self._passes[key] = n
        return n > self.full and n % self.every != 0

    def below(self, frame: types.FrameType) -> bool:
        """Whether `frame` runs inside a call the unobserved loop's frame made."""
        dark = self.frame
        if dark is None:
            return False
        f = frame.f_back
        while f is not None:
            if f is dark:
                return True
            f = f.f_back
        return False

    def end(self) -> bool:
        """End the unobserved stretch (an exception, the loop's frame leaving); whether there was one.
        `ended` keeps the loop's frame and body lines until the session has told the monitors."""
        if self.frame is None:
            return False
        self.ended = (self.frame, self._body)
        self.frame = None
        return True
