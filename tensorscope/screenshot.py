"""`tensorscope screenshot`: run the step-debugger headless, drive it as a user would, save the screen as SVG.

The same driver (`drive`) serves the CLI, `screenshots/` and the snapshot tests, so all of them show what
`tensorscope run` shows after the same keys. Output is deterministic: a fixed size and title, no absolute
paths, no toasts (they vanish on a timer), and every shot taken only once the engine has settled.

Regenerate every SVG under screenshots/ with:  python -m tensorscope.screenshot --all
"""

from __future__ import annotations

import dataclasses
import html
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from textual.app import App
from textual.pilot import Pilot

from tensorscope.engine import ScriptTarget
from tensorscope.tui.app import TensorScopeApp

DEFAULT_SIZE = (120, 40)
TITLE = "tensorscope"
"""The window title drawn in every SVG (never the host name or the script's absolute path)."""
MAX_STEPS = 500
"""How many `n` presses --until-line / --until-flag try before giving up."""
SETTLE_TIMEOUT = 60.0
"""Seconds the engine may take to reach its next pause before the shot fails."""
_BUSY = ("running", "starting")
_QUIT_KEYS = {"q", "ctrl+q", "ctrl+c"}


class DriveError(Exception):
    """The app could not be brought to the requested state (line never reached, flag never raised, ...)."""


def parse_keys(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Textual key names from `"left,left question_mark"` (commas and/or spaces) or a list of them."""
    items = [spec] if isinstance(spec, str) else list(spec)
    return tuple(k for item in items for k in re.split(r"[,\s]+", item) if k)


def parse_size(spec: str) -> tuple[int, int]:
    """`120x40` → (120, 40); ValueError with a clear message otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", spec)
    if not match:
        raise ValueError(f"size must look like 120x40 (columns x rows), not {spec!r}")
    width, height = int(match[1]), int(match[2])
    if width < 20 or height < 10:
        raise ValueError(f"size {width}x{height} is too small (at least 20x10)")
    return width, height


def make_app(script: str | ScriptTarget, args: Sequence[str] = (), *, lang: str = "en",
             simulate_cuda: bool = False, breakpoints: Iterable[int] = (),
             trace_modules: Iterable[str] = (), conditions: dict[int, str] | None = None,
             stop_on: Iterable[str] = ()) -> TensorScopeApp:
    """The app `tensorscope run` would open, with the script shown by a machine-independent name."""
    target = script if isinstance(script, ScriptTarget) else ScriptTarget.load(script, list(args))
    if Path(target.display).is_absolute():  # a script outside the cwd: its name alone, no home folder
        target = dataclasses.replace(target, display=Path(target.display).name)
    app = TensorScopeApp(target, lang=lang, simulate_cuda=simulate_cuda, breakpoints=tuple(breakpoints),
                         trace_modules=tuple(trace_modules), conditions=conditions, stop_on=tuple(stop_on))
    app.title = TITLE  # the SVG's window title
    return app


def _ui_busy(app: App[Any]) -> bool:
    """Whether any message is still queued in the app or a widget on screen (a key still travelling)."""
    try:
        pumps = [app, *app.screen_stack, *app.screen.walk_children(with_self=False)]
    except Exception:  # no screen yet
        return True
    return any(p.message_queue_size for p in pumps)


def _engine_busy(app: TensorScopeApp) -> bool:
    """Whether the script is running, or ended but its last messages are still on their way."""
    if app.state in _BUSY:
        return True
    session = app.runner.session
    if app.state != "paused" and session is not None and session.finished:
        session.join(5.0)  # the worker only has its end message left to post: wait for the thread to exit
    return False


async def settle(pilot: Pilot[Any], app: TensorScopeApp, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until the engine is paused (or over) and every pending message has been handled."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:  # two quiet rounds in a row: nothing left in flight
        await pilot.pause()
        busy = _engine_busy(app) or _ui_busy(app)
        quiet = 0 if busy else quiet + 1
        if busy and time.monotonic() > deadline:
            raise DriveError(f"the script did not pause within {timeout:.0f} s (state: {app.state})")
        if busy:
            await pilot.pause(0.01)


async def press_key(pilot: Pilot[Any], app: TensorScopeApp, key: str) -> None:
    """Press one key as a user would and wait for everything it set off (a step runs to its next pause)."""
    await pilot.press(key)
    await settle(pilot, app)


def _ended(app: TensorScopeApp) -> bool:
    return app.state not in _BUSY and app.state != "paused"


def _where(app: TensorScopeApp) -> str:
    step = app.current_step
    at = f"line {step.line}" if step is not None else "no step"
    return f"{at}, state {app.state}"


async def drive(pilot: Pilot[Any], app: TensorScopeApp, *, steps: int | None = None,
                until_line: int | None = None, until_flag: str | None = None,
                press: str | Iterable[str] = (), max_steps: int = MAX_STEPS) -> None:
    """Bring the app to a state: wait for the first step; press `n` `steps` times, or until the next
    line (▶) is `until_line`, or until a flag with code `until_flag` is listed; then press `press`.

    Raises DriveError when the line or flag is not reached within `max_steps` presses or the script ends.
    """
    if sum(x is not None for x in (steps, until_line, until_flag)) > 1:
        raise DriveError("use only one of steps, until_line and until_flag")
    await settle(pilot, app)
    if app.current_step is None:
        raise DriveError(f"the script never paused at its first line ({app.state})")
    if steps is not None:
        for done in range(steps):
            if _ended(app):
                raise DriveError(f"the script ended after {done} of {steps} steps ({_where(app)})")
            await press_key(pilot, app, "n")
    elif until_line is not None or until_flag is not None:
        def reached() -> bool:
            if until_flag is not None:
                return any(f.code == until_flag for f in app.flags.flags)
            step = app.current_step
            return step is not None and step.line == until_line and step.file == app.target.display

        what = f"line {until_line}" if until_flag is None else f"a {until_flag} flag"
        for _ in range(max_steps):
            if reached():
                break
            if _ended(app):
                raise DriveError(f"the script ended before {what} ({_where(app)})")
            await press_key(pilot, app, "n")
        if not reached():
            raise DriveError(f"{what} not reached within {max_steps} steps ({_where(app)})")
    for key in parse_keys(press):
        if key in _QUIT_KEYS:
            raise DriveError(f"{key} quits the app: there would be nothing left to take a picture of")
        await press_key(pilot, app, key)
    app.clear_notifications()  # toasts disappear on a timer: keep them out of the picture
    await pilot.wait_for_scheduled_animations()
    await settle(pilot, app)


def take(app: TensorScopeApp, size: tuple[int, int] = DEFAULT_SIZE, **how: Any) -> str:
    """Run `app` headless at `size`, `drive` it with `how`, and return the screen as SVG text."""

    async def pilot_then_shoot(pilot: Pilot[Any]) -> None:
        try:
            await drive(pilot, app, **how)
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()
            pilot.app.exit(app.export_screenshot(title=TITLE, simplify=True))
        except DriveError as exc:
            pilot.app.exit(exc)

    result = app.run(headless=True, size=size, auto_pilot=pilot_then_shoot)
    if isinstance(result, DriveError):
        raise result
    if not isinstance(result, str):
        raise DriveError(f"the app closed before the screenshot was taken ({app.state})")
    return result


_SVG_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
                       r'clip-path="url\(#terminal-(?:\d+-)?line-(\d+)\)">(.*?)</text>')
_CHAR_WIDTH = 12.2
"""Width of one terminal cell in Rich's SVG export (20 px font × 0.61)."""


def screen_text(svg: str) -> str:
    """The characters of a screenshot SVG, row by row (colours dropped): for readable diffs and checks."""
    rows: dict[int, dict[int, str]] = {}
    for match in _SVG_TEXT.finditer(svg):
        col, row = round(float(match[1]) / _CHAR_WIDTH), int(match[2])
        cells = rows.setdefault(row, {})
        for char in html.unescape(match[3]).replace("\u00a0", " "):
            cells[col] = char
            col += max(1, cell_len(char))
    lines = []
    for row in range(max(rows, default=-1) + 1):
        cells = rows.get(row, {})
        line, col = [], 0
        while col <= max(cells, default=-1):
            char = cells.get(col, " ")
            line.append(char)
            col += max(1, cell_len(char))
        lines.append("".join(line).rstrip())
    return "\n".join(lines)
