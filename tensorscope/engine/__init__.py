"""The engine: runs a script line by line and records Steps. Never imports Textual or rich.

Importing the package does not import torch: `Session` and `Monitor` load it when first used, so the
terminal UI (which runs the engine in a child process) can use `ScriptTarget` and the process protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tensorscope.engine.commands import COMMANDS, Command
from tensorscope.engine.target import ScriptError, ScriptTarget, list_scenarios, resolve_script

if TYPE_CHECKING:
    from tensorscope.engine.monitor import Monitor
    from tensorscope.engine.session import Session

__all__ = [
    "COMMANDS",
    "Command",
    "Monitor",
    "ScriptError",
    "ScriptTarget",
    "Session",
    "list_scenarios",
    "resolve_script",
]


def __getattr__(name: str) -> Any:
    """`Session` and `Monitor` on first use (they import torch)."""
    if name == "Session":
        from tensorscope.engine.session import Session

        return Session
    if name == "Monitor":
        from tensorscope.engine.monitor import Monitor

        return Monitor
    raise AttributeError(f"module 'tensorscope.engine' has no attribute {name!r}")
