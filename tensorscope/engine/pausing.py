"""Pausing where a debugger pauses: the interactive commands, breakpoints, and the pause loop.

Mixed into `tensorscope.engine.session.Session` (its state is set up in `Session.__init__`): a line or a
return of the user's code pauses there when the command in force says so (`stepping.pauses_at`), builds a
Step and waits for the next command; `finish`/`continue` hand the lines they run through to `on_between`.
"""

from __future__ import annotations

import dataclasses
import queue
import sys
import types

from tensorscope.engine.commands import COMMANDS, Command
from tensorscope.engine.databreaks import DataBreaks
from tensorscope.engine.evaluating import Paused
from tensorscope.engine.stepping import breakpoint_calls, pauses_at
from tensorscope.engine.steps import kept
from tensorscope.engine.stopon import parse_all
from tensorscope.model import PauseReason, Step, Trace


class StopScript(BaseException):
    """Raised inside the script's frame to end it (stop, step cap, timeout)."""


class Pausing:
    """The interactive side of a Session: commands in, Steps out, pauses in between."""

    def add_breakpoint(self, line: int, file: str | None = None, condition: str | None = None) -> None:
        """Stop before `line` of `file` (absolute or display path; default: the script); with a
        `condition`, only when it is true there (or cannot be evaluated: the Step says why)."""
        key = (self._abs(file), line)
        conditions = dict(self._conditions)
        if condition is not None and condition.strip():
            conditions[key] = condition.strip()
        else:
            conditions.pop(key, None)
        self._conditions = conditions  # (replaced whole: the script's thread reads it unlocked)
        self._breaks = self._breaks | {key}

    def remove_breakpoint(self, line: int, file: str | None = None) -> None:
        key = (self._abs(file), line)
        self._breaks = self._breaks - {key}
        if key in self._conditions:
            self._conditions = {k: v for k, v in self._conditions.items() if k != key}

    def run_to(self, line: int, file: str | None = None) -> None:
        """Continue to `line` of `file` (run to the cursor), or to an earlier breakpoint, flag or end."""
        with self._lock:
            self._until_next = (self._abs(file), line)
        self.send("continue")

    def set_stop_on(self, specs: tuple[str, ...] | list[str]) -> None:
        """The data breakpoints (`stopon` syntax: change:NAME, grad:NAME, nan, flag:CODE), replacing the
        ones set before; raises ValueError on one it cannot read."""
        parsed = parse_all(tuple(specs))
        if not parsed:
            self._databreaks = None
            return
        sim = self._sim
        databreaks = DataBreaks(parsed, device_name=sim.device_name if sim is not None else None)
        self._databreaks = databreaks
        if self._paused is not None:  # set while paused: what the line about to run changes must count
            self._request(lambda: self._baseline(databreaks))

    def _baseline(self, databreaks: DataBreaks) -> None:
        """On the script's thread, paused: the data breakpoints remember what the paused frame holds now."""
        paused = self._paused
        if paused is not None and not isinstance(paused.frames[-1], dict):
            databreaks.check(paused.frames[-1], [])

    @property
    def stop_on(self) -> tuple[str, ...]:
        """The data breakpoints in force, as text."""
        db = self._databreaks
        return tuple(str(s) for s in db.specs) if db is not None else ()

    def breakpoints(self) -> list[tuple[str, int]]:
        """(display path, line) of every breakpoint."""
        return sorted((self._display.get(f, f), ln) for f, ln in self._breaks)

    def start(self, mode: Command = "step") -> None:
        """Start the script in a worker thread; it pauses at the first line (mode `step`) and waits."""
        self._interactive = True
        self._mode = mode
        self._launch()

    def run_here(self, mode: Command = "step") -> Trace:
        """Run the script interactively on the calling thread until it ends; return the Trace.

        Commands come from other threads through `send()` (or `command()`), Steps go to `on_step` (or
        `wait()`), exactly as with `start()`. The engine's main thread calls this, so the script's
        signals, `os._exit` and thread-local state behave as under plain python.
        """
        self._interactive = True
        self._mode = mode
        return self._run_here(None)

    def interrupt(self) -> None:
        """Pause the running script at its next line of user code, whatever it was told (thread-safe).

        It applies to the commands sent so far: while the script is paused it does nothing.
        """
        with self._lock:
            self._interrupt_at = self._sent

    def command(self, cmd: Command, timeout: float | None = 30.0) -> Step | None:
        """Send a command and wait for the next pause. None when the script ended instead."""
        self.send(cmd)
        return self.wait(timeout)

    def send(self, cmd: Command) -> None:
        """Send a command without waiting (the UI's way)."""
        if cmd not in COMMANDS:
            raise ValueError(f"unknown command {cmd!r}; expected one of {', '.join(COMMANDS)}")
        if cmd == "stop":
            self.stop()
        else:
            with self._lock:
                self._sent += 1
                self._commands.put(cmd)

    def wait(self, timeout: float | None = 30.0) -> Step | None:
        """The next Step the worker posts; None once the run is over."""
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("the script did not pause in time") from None
        return item if isinstance(item, Step) else None

    def stop(self, reason: str = "stopped") -> None:
        """End the script at its next line (never blocks)."""
        if not self._stop.is_set():
            self._stop_reason = reason
        self._stop.set()

    def join(self, timeout: float | None = None) -> Trace | None:
        """Wait for the worker to finish; the Trace, or None if it is still running."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.trace

    # --- pausing ----------------------------------------------------------------------------------------

    def _on_line(self, frame: types.FrameType, line: int) -> None:
        if self._stop.is_set():
            raise StopScript
        if not line:  # an empty script's body: no line of the user's to show
            return
        self._cur_frame = frame
        prev_line = self._frame_line.get(frame)
        self._frame_line[frame] = line
        if frame.f_code is self.target.code:
            self._last_module_line = line
        for m in self._line_monitors:
            try:
                m.on_line(self, frame, line)
            except Exception as exc:
                self._failed(m, exc)
        if self._hook is not None:
            self._breakpoint_call_done()
        reason = self._why_pause(frame, line)
        if self._break_called:  # the line before called breakpoint(): pause here
            self._break_called = False
            reason = PauseReason("breakpoint-call")
        stop = pauses_at(
            self._mode, "line", self._depth.get(frame, 0), self._cmd_depth,
            at_breakpoint=reason is not None,
            flagged=self.stop_on_flags and any(f.severity != "info" for f in self._pending_flags),
            interrupted=self._interactive and self._interrupt_at >= self._applied,
        )
        if line in self._of_file(frame.f_code, breakpoint_calls):
            self._breakpoint_call_ahead()
        if stop:
            self._reason = reason
            self._pause(frame, "line", line, self._prev_of(frame, prev_line))
        elif self.on_between is not None and self._interactive:
            self._between(frame, "line", line, prev_line)

    def _why_pause(self, frame: types.FrameType, line: int) -> PauseReason | None:
        """Why the run must pause at this line whatever the command: a breakpoint (its condition true, or
        failing), the run-to-cursor line, a data breakpoint (checked at every line, so that what it
        remembers is always the last line's)."""
        databreaks = self._databreaks
        data = None
        if databreaks is not None:
            try:
                data = databreaks.check(frame, self._pending_flags)
            except Exception as exc:
                self._internal("engine (data breakpoints)", exc)
        key = (frame.f_code.co_filename, line)
        if key in self._breaks:
            condition = self._conditions.get(key)
            if condition is None:
                return PauseReason("breakpoint")
            holds, error = self._condition(frame, condition)
            if error is not None:
                return PauseReason("condition-error", condition, error)
            if holds:
                return PauseReason("breakpoint", condition)
        if self._until_next is not None:  # (a new run_to: in force from the command it came with)
            with self._lock:
                self._until, self._until_next = self._until_next, None
        if self._until is not None and key == self._until:
            return PauseReason("cursor")
        return data

    def _breakpoint_call_ahead(self) -> None:
        """The line about to run may call `breakpoint()`: under `run` it pauses after it (at the next line),
        as pdb's set_trace would, instead of starting pdb. The script's own hook, or PYTHONBREAKPOINT=0,
        is respected; ours stands in only while that line runs."""
        import os

        if sys.breakpointhook is not sys.__breakpointhook__ or os.environ.get("PYTHONBREAKPOINT") == "0":
            return
        session = self

        def breakpointhook(*args: object, **kwargs: object) -> None:
            """The script's breakpoint(): a pause at its next line under `run`; nothing under check/trace."""
            session._break_called = session._interactive

        self._hook, self._our_hook = sys.breakpointhook, breakpointhook
        sys.breakpointhook = breakpointhook

    def _breakpoint_call_done(self) -> None:
        """The line that could call breakpoint() has run (or its frame left): the script's hook is back."""
        hook, self._hook = self._hook, None
        if hook is not None and sys.breakpointhook is self._our_hook:  # (unless the line set its own)
            sys.breakpointhook = hook
        self._our_hook = None

    def _prev_of(self, frame: types.FrameType, prev_line: int | None) -> tuple[str, int] | None:
        """What ran just before `frame`'s line: its previous line, or the caller's line that made the call."""
        if prev_line is not None:
            return (self._display_of(frame.f_code.co_filename), prev_line)
        caller = self._user_parent(frame)
        if caller is None:
            return None
        return (self._display_of(caller.f_code.co_filename), self._line_of(caller))

    def _between(self, frame: types.FrameType, event: str, line: int, prev_line: int | None) -> None:
        """A line or return the command runs through (see `on_between`): a Step under finish/continue."""
        if self._mode not in ("finish", "continue"):
            self._step_count += 1  # (next: counted, so the indexes still match `record`'s)
            return
        held = list(self._pending_flags) if self.stop_on_flags and any(
            f.severity != "info" for f in self._pending_flags) else None
        prev = (self._display_of(frame.f_code.co_filename), prev_line) if event == "return" else \
            self._prev_of(frame, prev_line)
        step = self._make_step(frame, event, line, prev, watched=False)
        if held is not None:  # a flag to stop for: it stays for the pause it causes, shown there
            self._pending_flags[:0] = held
            step = dataclasses.replace(step, flags=())
        self._step_count += 1
        assert self.on_between is not None
        try:
            self.on_between(step)
        except Exception as exc:
            self._internal("on_between", exc)

    def _on_return(self, frame: types.FrameType, unwinding: bool) -> None:
        if self._hook is not None:
            self._breakpoint_call_done()
        depth = self._depth.pop(frame, 0)
        self._frame_line.pop(frame, None)
        if frame.f_code is self.target.code:
            return  # the module's end is recorded once exec() returns
        parent = self._user_parent(frame)
        if not unwinding and not self._stop.is_set():
            if pauses_at(self._mode, "return", depth, self._cmd_depth):
                self._depth[frame] = depth  # still on screen while paused
                try:
                    line = self._line_of(frame)
                    here = (self._display_of(frame.f_code.co_filename), line)
                    self._pause(frame, "return", line, here)
                finally:
                    self._depth.pop(frame, None)
            elif self.on_between is not None and self._interactive:
                self._depth[frame] = depth  # (in the Step's stack, as at a pause)
                try:
                    self._between(frame, "return", self._line_of(frame), self._line_of(frame))
                finally:
                    self._depth.pop(frame, None)
        self._cur_frame = parent

    def _user_parent(self, frame: types.FrameType) -> types.FrameType | None:
        parent = frame.f_back
        while parent is not None and parent not in self._depth:
            parent = parent.f_back
        return parent

    def _pause(
        self, frame: types.FrameType, event: str, line: int, prev: tuple[str, int] | None
    ) -> None:
        self._until = None  # (whatever made it pause, run-to-cursor is over)
        frames = self._user_frames(frame)
        step = self._make_step(frame, event, line, prev, stack=self._stack(frame, frames))
        if self._interactive:
            self._paused = Paused(kept(frames), step)
        self._publish(step)
        if self.max_steps is not None and self._step_count >= self.max_steps:
            self._stop_reason = "max-steps"
            raise StopScript
        if self._interactive:
            try:
                self._apply(self._wait_command(), self._depth.get(frame, 0))
            finally:
                self._paused = None

    def _publish(self, step: Step) -> None:
        self._step_count += 1
        if self.keep_steps:
            self.steps.append(step)
        if self.on_step is not None:  # the callback is how Steps arrive; nothing piles up for wait()
            try:
                self.on_step(step)
            except Exception as exc:
                self._internal("on_step", exc)
        elif self._interactive:
            self._events.put(step)

    def _wait_command(self) -> str:
        """The next command; meanwhile, run the requests (evaluations) that come on this thread."""
        while True:
            if self._stop.is_set():
                raise StopScript
            try:
                item = self._commands.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, str):
                return item
            self._serve(item)

    def _apply(self, cmd: str, depth: int) -> None:
        self._applied += 1
        self._mode = cmd
        self._cmd_depth = depth
