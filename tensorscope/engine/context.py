"""`RunContext`: what a check (or any watcher of a run) may ask of the running session.

Checks, the instrumentation and the simulated CUDA depend on this protocol, never on `Session` itself, so the
engine's modules import one another in one direction only (`session` → `monitor`/`instrument` → `context`).
"""

from __future__ import annotations

import types
from typing import Protocol, TypedDict, Unpack

from tensorscope.engine.target import ScriptTarget
from tensorscope.model import Flag, Severity


class FlagPlace(TypedDict, total=False):
    """Where a flag stands and what it names; what is left out is the running function's current line."""

    tensors: tuple[str, ...]
    """The user's names of the tensors it is about."""
    line: int | None
    """Its line, in the running function's file."""
    where: tuple[str, str] | None
    """Its file as flags show it, and function: for a flag about another function than the running one."""


class RunContext(Protocol):
    """The running session, as its watchers see it. Implemented by `tensorscope.engine.session.Session`."""

    target: ScriptTarget
    """The script being run."""
    simulate_cuda: bool
    """Whether this run simulates a CUDA device (`--simulate-cuda`)."""
    internal_errors: list[str]
    """Errors inside tensorscope during the run, with their tracebacks (never swallowed)."""

    @property
    def display(self) -> str:
        """The script's path as the user sees it."""
        ...

    @property
    def unobserved(self) -> bool:
        """True while `check` lets a loop's passes run unobserved (sampling)."""
        ...

    def emit(self, code: str, severity: Severity, message: str, hint: str, data: dict[str, str] | None = None,
             **place: Unpack[FlagPlace]) -> Flag:
        """Raise a flag at the current line of the running function, or where `place` says."""
        ...

    def user_frame(self) -> types.FrameType | None:
        """The innermost frame of the user's code that is running now."""
        ...

    def location(self) -> tuple[str, int, str]:
        """(display file, line, function) of the user's current line."""
        ...

    def source_line(self, frame: types.FrameType | None = None, line: int | None = None) -> str:
        """The text of a source line in the user's code (the current one by default)."""
        ...

    def is_user_code(self, code: types.CodeType) -> bool:
        """Whether a code object is the user's (the script or a module traced with --trace-module)."""
        ...

    def source_of(self, code: types.CodeType) -> str:
        """The whole source text of the file a code object of the user's comes from."""
        ...
