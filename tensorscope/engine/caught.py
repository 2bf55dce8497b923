"""Pitfalls the script catches: the checks explain them at the line that raised them, once per exception.

A tutorial shows an error by catching it (`try: loss.backward() except RuntimeError as e: print(e)`): when
the handler starts, each monitor's `on_caught` may explain the exception as it would an uncaught one (the
innermost line of the user's in its traceback), saying where it was caught. `script-error` stays quiet:
catching an exception is ordinary. The same exception is explained once (re-raised and caught again, or
re-raised uncaught), and so is the same pitfall caught the same way again (each pass of a loop).
"""

from __future__ import annotations

import types
from typing import Any

_SIMPLE = str | int | float | bool


def readable(exc: BaseException) -> bool:
    """Whether str(exc) runs none of the user's code (no `__str__` of theirs, no repr of their args)."""
    if isinstance(type(exc).__str__, types.FunctionType):
        return False
    return all(isinstance(a, _SIMPLE) or a is None for a in exc.args)


def raised_at(exc: BaseException, user_files: set[str]) -> tuple[types.FrameType | None, int]:
    """The innermost frame of the user's code in `exc`'s traceback and its line ((None, 0): none)."""
    found: tuple[types.FrameType | None, int] = (None, 0)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in user_files:
            found = (tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return found


class CaughtPitfalls:
    """Which caught exceptions were explained (by id, with where they were raised: no reference is kept,
    so the script's objects are freed as under plain python)."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[str, int]] = {}
        self._ways: set[tuple[Any, ...]] = set()
        """(file, line raised, line caught, file caught, type) of each pitfall explained."""

    def to_explain(self, exc: BaseException, user_files: set[str], caught: int, caught_file: str,
                   display_of: Any) -> tuple[types.FrameType, int, tuple[int, str], tuple[Any, ...]] | None:
        """(raising frame, its line, (caught line, caught file or "" when the same), key) when the checks
        should look at `exc`, caught at line `caught` of `caught_file` (a display path); None otherwise."""
        if not readable(exc):
            return None  # (its message would run the script's code)
        frame, line = raised_at(exc, user_files)
        if frame is None:
            return None
        where = (frame.f_code.co_filename, line)
        if self._by_id.get(id(exc)) == where:  # caught again after a re-raise
            return None
        at = (caught, "" if caught_file == display_of(where[0]) else caught_file)
        key = (*where, *at, type(exc))
        if key in self._ways:  # the same pitfall caught the same way (a loop's next pass)
            self._by_id[id(exc)] = where
            return None
        return frame, line, at, key

    def explained(self, exc: BaseException, key: tuple[Any, ...]) -> None:
        """A check explained `exc` (`key` from `to_explain`)."""
        self._by_id[id(exc)] = (key[0], key[1])
        self._ways.add(key)

    def seen(self, exc: BaseException, frame: types.FrameType | None, line: int) -> bool:
        """Whether `exc`, now uncaught at `line` of `frame`, was explained when it was caught before."""
        return frame is not None and self._by_id.get(id(exc)) == (frame.f_code.co_filename, line)
