"""Pausing where a debugger pauses: the interactive commands, breakpoints, and the pause loop.

Mixed into `tensorscope.engine.session.Session` (its state is set up in `Session.__init__`): a line or a
return of the user's code pauses there when the command in force says so (`stepping.pauses_at`), builds a
Step and waits for the next command; `finish`/`continue` hand the lines they run through to `on_between`.
"""

from __future__ import annotations

import dataclasses
import queue
import types

from tensorscope.engine.commands import COMMANDS, Command
from tensorscope.engine.stepping import pauses_at
from tensorscope.model import Step, Trace


class StopScript(BaseException):
    """Raised inside the script's frame to end it (stop, step cap, timeout)."""


class Pausing:
    """The interactive side of a Session: commands in, Steps out, pauses in between."""

    def add_breakpoint(self, line: int, file: str | None = None) -> None:
        """Stop before `line` of `file` (absolute or display path; default: the script)."""
        self._breaks = self._breaks | {(self._abs(file), line)}

    def remove_breakpoint(self, line: int, file: str | None = None) -> None:
        self._breaks = self._breaks - {(self._abs(file), line)}

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
        stop = pauses_at(
            self._mode, "line", self._depth.get(frame, 0), self._cmd_depth,
            at_breakpoint=(frame.f_code.co_filename, line) in self._breaks,
            flagged=self.stop_on_flags and any(f.severity != "info" for f in self._pending_flags),
            interrupted=self._interactive and self._interrupt_at >= self._applied,
        )
        if stop:
            self._pause(frame, "line", line, self._prev_of(frame, prev_line))
        elif self.on_between is not None and self._interactive:
            self._between(frame, "line", line, prev_line)

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
        step = self._make_step(frame, event, line, prev)
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
        step = self._make_step(frame, event, line, prev)
        self._publish(step)
        if self.max_steps is not None and self._step_count >= self.max_steps:
            self._stop_reason = "max-steps"
            raise StopScript
        if self._interactive:
            self._apply(self._wait_command(), self._depth.get(frame, 0))

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
        while True:
            if self._stop.is_set():
                raise StopScript
            try:
                return self._commands.get(timeout=0.1)
            except queue.Empty:
                continue

    def _apply(self, cmd: str, depth: int) -> None:
        self._applied += 1
        self._mode = cmd
        self._cmd_depth = depth
