"""The engine: runs a script line by line and records Steps. Never imports Textual or rich."""

from tensorscope.engine.monitor import Monitor
from tensorscope.engine.session import COMMANDS, Command, Session
from tensorscope.engine.target import ScriptError, ScriptTarget, list_scenarios, resolve_script

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
