"""Glue between the engine process (the script runs in a child process) and the app: Steps in, commands out.

Nothing here imports torch: the engine child is forked from a fork server that has (see engine/process.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from textual.app import App
from textual.message import Message

from tensorscope.engine import Command, ScriptTarget
from tensorscope.engine.process import EngineProcess, RunResult, spec_for, take_engine, warm_up
from tensorscope.model import Evaluation, Step, Trace


def toggle(breakpoints: set[tuple[str, int]], file: str, line: int) -> bool:
    """Set or clear the breakpoint at (file, line) in `breakpoints`; True when it is now set."""
    key = (file, line)
    if key in breakpoints:
        breakpoints.discard(key)
        return False
    breakpoints.add(key)
    return True


class EngineRun:
    """One run of the script in an engine child; what is sent before the child is there waits for it."""

    def __init__(self) -> None:
        self.engine: EngineProcess | None = None
        self.result: RunResult | None = None
        self._queued: list[tuple[str, tuple[object, ...]]] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.failed: BaseException | None = None
        """Why no child could be started (reported as the end of the run)."""
        self._starting: EngineProcess | None = None
        """The child, from the moment it is taken (its first Step may arrive before `attach`)."""

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def stdin_reads(self) -> int:
        """How many times the script read its (empty) stdin."""
        return self.engine.stdin_reads if self.engine is not None else 0

    @property
    def internal_errors(self) -> list[str]:
        """Errors inside tensorscope during the run (known once it has ended)."""
        return list(self.result.internal_errors) if self.result is not None else []

    @property
    def pid(self) -> int | None:
        """The engine child's process id (None before it is started)."""
        engine = self.engine or self._starting
        return engine.pid if engine is not None else None

    def starting(self, engine: EngineProcess) -> None:
        """`engine` is about to run the script (what is sent still waits for `attach`)."""
        self._starting = engine

    def attach(self, engine: EngineProcess) -> None:
        """The child is running the script: send it what waited."""
        with self._lock:
            self.engine = engine
            queued, self._queued = self._queued, []
        for method, args in queued:
            getattr(engine, method)(*args)

    def call(self, method: str, *args: object) -> None:
        """Call `method` of the engine now, or once it is attached."""
        with self._lock:
            engine = self.engine
            if engine is None:
                self._queued.append((method, args))
                return
        getattr(engine, method)(*args)

    def ended(self, result: RunResult) -> None:
        self.result = result
        self._done.set()

    def join(self, timeout: float | None = None) -> Trace | None:
        """Wait for the end of the run; its Trace, or None if it is still going."""
        self._done.wait(timeout)
        return self.result.trace if self.result is not None else None


class Runner:
    """Starts, drives and stops engine runs of one script; forwards what they report as messages."""

    @dataclass
    class StepReady(Message):
        """The script paused: here is the new Step."""

        step: Step
        run: int
        """Which run it belongs to (Steps of a run that was restarted are ignored)."""

    @dataclass
    class StepsRan(Message):
        """Steps the script ran through without pausing (finish, continue), before its next pause."""

        steps: list[Step]
        run: int

    @dataclass
    class Ended(Message):
        """The script ended (finished, raised, exited, died or was stopped)."""

        trace: Trace
        run: int
        internal_errors: tuple[str, ...] = ()
        """Errors inside tensorscope during the run (the checks' or the engine's own)."""

    @dataclass
    class Evaluated(Message):
        """What an expression typed at the prompt gave (answered at the script's pause)."""

        evaluation: Evaluation
        run: int

    @dataclass
    class Completed(Message):
        """The names in scope that start with `prefix` (Tab at the prompt)."""

        prefix: str
        names: tuple[str, ...]
        run: int

    @dataclass
    class Framed(Message):
        """The paused Step re-made for a frame up the stack (u/d); None when the script is not paused."""

        step: Step | None
        index: int
        run: int

    @dataclass
    class Watched(Message):
        """The watches evaluated again at the current pause (after they were changed)."""

        evaluations: tuple[Evaluation, ...]
        run: int

    checks = "tensorscope.checks:default_checks"
    """`module:function` making the checks the engine runs (imported in the engine process)."""

    def __init__(self, target: ScriptTarget, app: App[Any], *, trace_modules: Iterable[str] = (),
                 simulate_cuda: bool = False, allow_eval: bool = True) -> None:
        self.target = target
        self.allow_eval = allow_eval
        """False: the engine refuses evaluation, watches and conditions (`serve` without --allow-eval)."""
        self.watches: list[str] = []
        """The watched expressions; kept across restarts."""
        self.app = app
        self.trace_modules = tuple(trace_modules)
        self.simulate_cuda = simulate_cuda
        self.session: EngineRun | None = None
        """The current run (named as the engine Session it drives)."""
        self.run = 0
        """Number of the current run (1 for the first)."""
        self.breakpoints: set[tuple[str, int]] = set()
        """(display file, line) of every breakpoint; kept across restarts."""
        warm_up()

    @property
    def alive(self) -> bool:
        return self.session is not None and not self.session.finished

    def start(self) -> int:
        """Start a fresh run of the script; it pauses before its first line."""
        self.run += 1
        run = self.run
        handle = EngineRun()
        self.session = handle
        spec = spec_for(self.target, "interactive", trace_modules=self.trace_modules,
                        breakpoints=sorted(self.breakpoints), stop_on_flags=True,
                        simulate_cuda=self.simulate_cuda, checks=self.checks,
                        watches=tuple(self.watches) if self.allow_eval else (), allow_eval=self.allow_eval)
        # a Textual worker thread: the first take may wait for the fork server
        self.app.run_worker(lambda: self._launch(handle, spec, run), name="tensorscope-launch",
                            group="engine", thread=True, exit_on_error=False)
        return run

    def _launch(self, handle: EngineRun, spec: object, run: int) -> None:
        """Off the UI thread: take a child (the first may wait for the fork server) and start the run."""
        post = self.app.post_message

        def on_end(result: RunResult) -> None:
            handle.ended(result)
            post(Runner.Ended(result.trace, run, tuple(result.internal_errors)))

        try:
            engine = take_engine()
        except Exception as exc:  # no process could be started: the run ends, saying why
            handle.failed = exc
            trace = Trace(script=self.target.display, completed=False, end_reason="stopped",
                          stderr=f"tensorscope: cannot start the engine process: {exc}\n")
            on_end(RunResult(trace, [f"{type(exc).__name__}: {exc}"]))
            return
        handle.starting(engine)
        engine.begin(spec, on_step=lambda step: post(Runner.StepReady(step, run)),  # type: ignore[arg-type]
                     on_end=on_end, on_between=lambda steps: post(Runner.StepsRan(steps, run)))
        handle.attach(engine)

    def send(self, cmd: Command | str) -> None:
        if self.session is not None:
            if cmd == "stop":
                self.session.call("stop", "stopped")
            else:
                self.session.call("send", cmd)

    def interrupt(self) -> None:
        """Pause the running script at its next line of the user's code."""
        self.send("interrupt")

    def stop(self) -> None:
        """End the current run at once (its child is killed); never blocks for long."""
        if self.session is not None:
            self.session.call("kill")

    def toggle_breakpoint(self, file: str, line: int) -> bool:
        """Set or clear a breakpoint; True when it is now set. Applies to the running script at once."""
        on = toggle(self.breakpoints, file, line)
        if self.session is not None:
            self.session.call("set_breakpoint", file, line, on)
        return on

    def evaluate(self, source: str, frame: int | None) -> None:
        """Evaluate `source` in frame `frame` of the paused stack (None: the innermost); answered by an
        `Evaluated` message at the script's pause."""
        run, post = self.run, self.app.post_message
        if self.session is not None:
            self.session.call("evaluate", source, frame, lambda ev: post(Runner.Evaluated(ev, run)))

    def complete(self, prefix: str, frame: int | None) -> None:
        """Ask for the names in scope starting with `prefix`; answered by a `Completed` message."""
        run, post = self.run, self.app.post_message
        if self.session is not None:
            self.session.call("complete", prefix, frame,
                              lambda names: post(Runner.Completed(prefix, tuple(names), run)))

    def select_frame(self, index: int) -> None:
        """Ask for the paused Step seen from frame `index` of its stack; answered by a `Framed` message."""
        run, post = self.run, self.app.post_message
        if self.session is not None:
            self.session.call("select_frame", index, lambda step: post(Runner.Framed(step, index, run)))

    def set_watches(self, exprs: list[str]) -> None:
        """Watch `exprs` from now on (this run and the next); a `Watched` message gives them evaluated at
        the current pause."""
        self.watches = list(exprs)
        run, post = self.run, self.app.post_message
        if self.session is not None and self.allow_eval:
            self.session.call("set_watches", tuple(exprs),
                              lambda evs: post(Runner.Watched(tuple(evs), run)))
