"""The commands that drive a paused script (torch-free: the TUI, the engine process and Session share it)."""

from __future__ import annotations

from typing import Literal

Command = Literal["step", "next", "finish", "continue", "stop"]
COMMANDS: tuple[str, ...] = ("step", "next", "finish", "continue", "stop")
