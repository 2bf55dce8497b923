"""The user's lambdas and genexprs: not steps of their own, but their operations are the user's.

Their lines go to the monitors that watch operations (`Monitor.wants_inner_lines`), once per run of a line
(a genexpr coming back to its line for the next item is not a new one), so a check sees an operation inside
one at the lambda's own line. List, dict and set comprehensions are not traced at all: 3.12 inlines them,
and on 3.11 the statement around one is what the checks see (the mode entered for it stays on inside).
"""

from __future__ import annotations

import dis
import sys
import types

COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>"})
"""Not traced (3.11 gives them frames of their own; 3.12 inlines them)."""
INNER = frozenset({"<genexpr>", "<lambda>"})
"""Traced, their lines not steps."""


def function_of(code: types.CodeType) -> str:
    """The function a line of `code` is shown in: a comprehension's is the one around it (as on 3.12,
    which inlines them), a lambda's and a genexpr's their own."""
    if code.co_name not in COMPREHENSIONS:
        return code.co_name
    parts = code.co_qualname.split(".")
    while parts and (parts[-1] in COMPREHENSIONS or parts[-1] == "<locals>"):
        parts.pop()
    return parts[-1] if parts else "<module>"


class InnerFrames:
    """Which lambda or genexpr runs now, without holding its frame (that would keep its locals alive)."""

    def __init__(self) -> None:
        self.current: tuple[int, types.CodeType] | None = None
        """(id of the frame, code) of the lambda or genexpr whose line ran last."""
        self._seen: tuple[int, int] | None = None
        """(id of the frame, line) of the last line the monitors saw."""
        self._starts: dict[int, tuple[types.CodeType, int]] = {}

    def resumed(self, frame: types.FrameType) -> bool:
        """At a frame's start or resume event: True when a genexpr resumes after a yield (its line was
        seen when it started); a start forgets the last line seen (a new frame may reuse an old id)."""
        code = frame.f_code
        known = self._starts.get(id(code))
        if known is None or known[0] is not code:
            first = next((i.offset for i in dis.get_instructions(code) if i.opname == "RESUME"), 0)
            known = self._starts[id(code)] = (code, first)
        if frame.f_lasti > known[1]:
            return True
        self._seen = None
        return False

    def new_line(self, frame: types.FrameType, line: int) -> bool:
        """Whether this line event is a new run of the line (and note that it runs now)."""
        seen = (id(frame), line)
        if seen == self._seen:
            return False
        self._seen = seen
        self.current = (id(frame), frame.f_code)
        return True

    def innermost(self, cur: types.FrameType | None) -> types.FrameType | None:
        """The innermost frame of the user's that runs now: `cur` (the stepped one), or the lambda or genexpr
        that runs inside it. One that returned or yielded is forgotten here (it is no longer on the stack)."""
        inner = self.current
        if inner is None:
            return cur
        f: types.FrameType | None = sys._getframe(2)
        while f is not None:
            if id(f) == inner[0] and f.f_code is inner[1]:
                return f
            if f is cur:
                return cur
            f = f.f_back
        self.current = None
        return cur
