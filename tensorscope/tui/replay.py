"""Replay a recorded Trace in the step-debugger: the same Steps, pauses and messages as the live run.

`tensorscope trace SCRIPT -o lesson.json` records a Step at every line (step mode). Replaying it, each
command walks that recording and pauses where the live engine would have paused, folding the flags and
output of the lines it passed over into the Step it shows, exactly as the engine does when it runs over
them. The script is not run, not even needed: the Trace carries its source.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.message_pump import MessagePump

from tensorscope.databreaks_replay import replay_reason
from tensorscope.engine import Command, ScriptTarget
from tensorscope.engine.stepping import pauses_at
from tensorscope.engine.stopon import StopOn, parse_all
from tensorscope.model import Flag, PauseReason, Step, Trace
from tensorscope.tui.replay_breaks import NotRecorded, ReplayConditionError, condition_holds
from tensorscope.tui.runner import Runner, toggle
from tensorscope.tui.words import words


def replay_target(trace: Trace) -> ScriptTarget:
    """A ScriptTarget for a recorded script: its name, arguments and source, nothing to run."""
    return ScriptTarget(path=Path(trace.script), display=trace.script, argv=[trace.script, *trace.argv],
                        source="\n".join(trace.source))


def stops_here(step: Step, cmd: Command, depth: int, pending: list[Flag],
               breakpoints: set[tuple[str, int]], reason: PauseReason | None = None) -> bool:
    """Whether the live engine, running `cmd` given at call depth `depth`, pauses at recorded `step`
    (`pending`: the flags raised since the last pause, this step's included; `reason`: a conditional, data
    or run-to-cursor breakpoint that `step` meets, which pauses as a breakpoint does)."""
    at_breakpoint = (step.file, step.line) in breakpoints if reason is None else True
    return pauses_at(cmd, step.event, step.depth, depth, at_breakpoint=at_breakpoint,
                     flagged=any(f.severity != "info" for f in pending))  # the app stops on new flags


class ReplayRunner:
    """Drives the app from a recorded Trace, with Runner's interface and messages."""

    session = None
    """No engine Session: a replay can restart at once."""

    def __init__(self, trace: Trace, app: MessagePump) -> None:
        self.trace = trace
        self.app = app
        self.run = 0
        """Number of the current replay (1 for the first)."""
        self.breakpoints: set[tuple[str, int]] = set()
        """(display file, line) of every breakpoint; kept across restarts."""
        self.conditions: dict[tuple[str, int], str] = {}
        """(display file, line) -> the condition of that breakpoint, evaluated over the recorded Step
        (see replay_breaks: one-element tensors and watched names only)."""
        self.stop_on: tuple[StopOn, ...] = ()
        """The data breakpoints, checked by comparing each recorded Step with the one before it."""
        self.allow_eval = True
        """False: conditions are refused (not evaluated; the breakpoint stops, saying so)."""
        self._until: tuple[str, int] | None = None
        """run_to's line, until the next pause."""
        self._pos = -1
        """Index in `trace.steps` of the last Step shown (-1: none yet)."""
        self._shown = 0
        self._ended = False

    @property
    def alive(self) -> bool:
        return self.run > 0 and not self._ended

    def start(self) -> int:
        """Start the replay from the top; it pauses at the first recorded Step."""
        self.run += 1
        self._pos, self._shown, self._ended = -1, 0, False
        self._until = None
        self._advance("step")
        return self.run

    def send(self, cmd: Command) -> None:
        if cmd == "stop":
            self.stop()
        elif not self._ended:
            self._advance(cmd)

    def stop(self) -> None:
        """End this replay; nothing more is posted for it."""
        self._ended = True

    def toggle_breakpoint(self, file: str, line: int) -> bool:
        """Set or clear a breakpoint; True when it is now set."""
        on = toggle(self.breakpoints, file, line)
        self.conditions.pop((file, line), None)
        return on

    def set_breakpoint(self, file: str, line: int, on: bool, condition: str | None = None) -> None:
        """As EngineProcess.set_breakpoint: add (with its condition, if any) or remove a breakpoint."""
        key = (file, line)
        self.conditions.pop(key, None)
        if not on:
            self.breakpoints.discard(key)
            return
        self.breakpoints.add(key)
        if condition:
            self.conditions[key] = condition

    def set_stop_on(self, specs: tuple[str, ...]) -> None:
        """The data breakpoints (`stopon` syntax), replacing those set before."""
        self.stop_on = parse_all(specs)

    def run_to(self, file: str, line: int) -> None:
        """Continue to `line` of `file` (or an earlier pause), as the live engine's run_to."""
        if not self._ended:
            self._until = (file, line)
            self._advance("continue")

    def _reason(self, pos: int) -> PauseReason | None:
        """Why recorded Step `pos` pauses whatever the command, as the live engine decides it (pausing.py's
        `_why_pause`): a breakpoint (its condition true, or one that cannot be evaluated), the run-to-cursor
        line, a data breakpoint; None: none of these (a false condition included)."""
        steps = self.trace.steps
        step = steps[pos]
        if step.event != "line":
            return None
        key = (step.file, step.line)
        if key in self.breakpoints:
            condition = self.conditions.get(key)
            if condition is None:
                return PauseReason("breakpoint")
            found = self._condition(condition, step)
            if found is not None:
                return found
        if self._until == key:
            return PauseReason("cursor")
        return replay_reason(steps[pos - 1] if pos else None, step, self.stop_on) if self.stop_on else None

    def _condition(self, condition: str, step: Step) -> PauseReason | None:
        """A condition over the recorded Step: true, or not evaluable (saying why): a reason to pause."""
        w = words(getattr(self.app, "lang", "en"))
        if not self.allow_eval:
            return PauseReason("condition-error", condition, w["replay_cond_off"])
        try:
            return PauseReason("breakpoint", condition) if condition_holds(condition, step) else None
        except NotRecorded as exc:
            known = ", ".join(exc.known) or w["replay_cond_none"]
            return PauseReason("condition-error", condition,
                               w["replay_cond_unknown"].format(name=exc.name, known=known))
        except ReplayConditionError as exc:
            return PauseReason("condition-error", condition, str(exc))

    def _advance(self, cmd: Command) -> None:
        """Post the next Step the live engine would pause at, or the end of the run."""
        steps = self.trace.steps
        depth = steps[self._pos].depth if self._pos >= 0 else 0
        pending: list[Flag] = []
        stdout: list[str] = []
        stderr: list[str] = []
        between: list[Step] = []
        keep = cmd in ("finish", "continue")  # the live engine keeps what these run through (next counts it)
        for pos in range(self._pos + 1, len(steps)):
            step = steps[pos]
            pending.extend(step.flags)
            stdout.append(step.stdout)
            stderr.append(step.stderr)
            reason = self._reason(pos) if pos else None
            if pos == 0 or stops_here(step, cmd, depth, pending, set(), reason):
                if between:
                    self.app.post_message(Runner.StepsRan(between, self.run))
                self._until = None
                shown = dataclasses.replace(step, flags=tuple(pending), reason=reason or step.reason,
                                            stdout="".join(stdout), stderr="".join(stderr))
                self._pos, self._shown = pos, self._shown + 1
                self.app.post_message(Runner.StepReady(shown, self.run))
                if step.event in ("exception", "end"):
                    self._end()
                return
            if keep:  # as the engine: a flag to stop for stays pending, for the pause it causes
                serious = any(f.severity != "info" for f in pending)
                between.append(dataclasses.replace(step, flags=() if serious else tuple(pending),
                                                   stdout="".join(stdout), stderr="".join(stderr)))
                if not serious:
                    pending.clear()
                stdout.clear()
                stderr.clear()
        if between:
            self.app.post_message(Runner.StepsRan(between, self.run))
        self._pos = len(steps)
        self._end()

    def _end(self) -> None:
        self._ended = True
        self.app.post_message(Runner.Ended(self.trace, self.run))
