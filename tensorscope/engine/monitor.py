"""The engine's extension points: what a watcher of a run (a check) can see and do."""

from __future__ import annotations

import types
from contextlib import AbstractContextManager
from typing import Any

from tensorscope.engine.context import RunContext

__all__ = ["Monitor", "RunContext"]


class Monitor:
    """Base class for watchers of a run. Every method is optional; none may raise into the script (an
    error inside one is recorded in the run's internal errors, with the monitor's name)."""

    def activate(self, ctx: RunContext) -> AbstractContextManager[Any] | None:
        """Called in the script's thread before it starts; the returned context stays entered."""
        return None

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        """Called before each line of user code runs (the previous line in that frame is done)."""

    def on_gap(self, ctx: RunContext) -> None:
        """The line just seen (by on_line) starts a pass of a loop that `check` does not observe: no line
        runs through on_line until the next observed one, and hooks firing meanwhile should stay quiet
        (`ctx.unobserved`). Finish or drop what waits for "the next line"."""

    def on_resume(self, ctx: RunContext, frame: types.FrameType, lines: frozenset[int]) -> None:
        """Passes of the loop at `lines` of `frame` ran unobserved and observation resumes now (the loop
        goes on, ended, or raised): catch up on what persists (a NaN is still there)."""

    explains: tuple[type[BaseException], ...] = (BaseException,)
    """The exception classes `on_exception` and `on_caught` are called for (others pass it by)."""

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        """The script raised `exc` (one of `explains`) uncaught at `line`. Return True when a flag explained
        it."""
        return False

    def on_caught(self, ctx: RunContext, exc: BaseException, frame: types.FrameType, line: int,
                  caught: tuple[int, str]) -> bool:
        """The script caught `exc`, raised at `line` of `frame` (the innermost user frame), with a handler
        at line `caught[0]` (of file `caught[1]`; "": the same file). Return True when a flag explained it.
        Called once per exception, when the handler starts; its message is safe to read."""
        return False

    def on_raise(self, ctx: RunContext, exc: BaseException, frame: types.FrameType, line: int) -> None:
        """The user's code raised `exc` at `line` of `frame` (it may yet be caught); never call it."""

    def on_handled(self, ctx: RunContext, exc: BaseException, frame: types.FrameType, line: int) -> None:
        """A handler at `line` of `frame` caught `exc`, raised earlier in the user's code."""

    def on_finish(self, ctx: RunContext) -> None:
        """The script ended (any way)."""

    wants_lines: bool = False
    """Set True to receive on_line (costs a call per line of user code)."""

    wants_inner_lines: bool = False
    """With `wants_lines`: on_line also for the lines of the user's lambdas and genexprs, which are not
    steps (their operations are the user's, at their own line; `engine.inner`)."""

    def quiet_inner_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> bool:
        """With `wants_inner_lines`: True when on_line never does anything at this line of a lambda or
        genexpr (asked once per line; when every such monitor says so, the line's events may stop)."""
        return False
