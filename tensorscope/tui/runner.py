"""Glue between one engine Session (running in its worker thread) and the app: Steps in, commands out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.message import Message
from textual.message_pump import MessagePump

from tensorscope.checks import default_checks
from tensorscope.engine import Command, ScriptTarget, Session
from tensorscope.model import Step, Trace


def toggle(breakpoints: set[tuple[str, int]], file: str, line: int) -> bool:
    """Set or clear the breakpoint at (file, line) in `breakpoints`; True when it is now set."""
    key = (file, line)
    if key in breakpoints:
        breakpoints.discard(key)
        return False
    breakpoints.add(key)
    return True


class Runner:
    """Starts, drives and stops Sessions for one script; forwards what they report as messages."""

    @dataclass
    class StepReady(Message):
        """The script paused: here is the new Step."""

        step: Step
        run: int
        """Which run it belongs to (Steps of a run that was restarted are ignored)."""

    @dataclass
    class Ended(Message):
        """The script ended (finished, raised, exited or was stopped)."""

        trace: Trace
        run: int

    def __init__(self, target: ScriptTarget, app: MessagePump, *, trace_modules: Iterable[str] = (),
                 simulate_cuda: bool = False) -> None:
        self.target = target
        self.app = app
        self.trace_modules = tuple(trace_modules)
        self.simulate_cuda = simulate_cuda
        self.session: Session | None = None
        self.run = 0
        """Number of the current run (1 for the first)."""
        self.breakpoints: set[tuple[str, int]] = set()
        """(display file, line) of every breakpoint; kept across restarts."""

    @property
    def alive(self) -> bool:
        return self.session is not None and not self.session.finished

    def start(self) -> int:
        """Start a fresh run of the script; it pauses before its first line."""
        self.run += 1
        run = self.run
        post = self.app.post_message
        session = Session(
            self.target,
            trace_modules=self.trace_modules,
            breakpoints=sorted(self.breakpoints),
            monitors=default_checks(),
            stop_on_flags=True,
            keep_steps=False,  # the app keeps its own bounded History
            on_step=lambda step: post(Runner.StepReady(step, run)),
            on_end=lambda trace: post(Runner.Ended(trace, run)),
            simulate_cuda=self.simulate_cuda,
        )
        self.session = session
        session.start("step")
        return run

    def send(self, cmd: Command) -> None:
        if self.session is not None:
            self.session.send(cmd)

    def stop(self) -> None:
        """End the current run at its next line; never blocks."""
        if self.session is not None:
            self.session.stop()

    def toggle_breakpoint(self, file: str, line: int) -> bool:
        """Set or clear a breakpoint; True when it is now set. Applies to the running script at once."""
        on = toggle(self.breakpoints, file, line)
        if self.session is not None:
            if on:
                self.session.add_breakpoint(line, file)
            else:
                self.session.remove_breakpoint(line, file)
        return on
