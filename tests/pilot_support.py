"""What the pilot tests share: waiting on the app's state (never on a sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


async def wait_until(pilot: Any, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Let the app and the engine work until `condition` holds; fails saying `what` after `timeout` seconds
    of wall time (a bound for a stuck run, not a guess at how fast the machine is)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def paused(pilot: Any, app: Any, what: str = "a pause", timeout: float = 20.0) -> None:
    """Wait until the app shows a Step and the script is paused (or over)."""
    await wait_until(pilot, lambda: app.current_step is not None and app.state != "running"
                     and app.state != "starting", what, timeout)
