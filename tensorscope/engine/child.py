"""The engine child's side of a run: a Session on the script, on the child's main thread, with commands read
from the pipe by a thread and Steps sent back (batched while `finish`/`continue` run through lines). The
messages are documented in `protocol.py`; the parent's side is `process.py`.
"""

from __future__ import annotations

import _thread
import atexit
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from tensorscope.engine.protocol import BATCH_SECONDS, BATCH_STEPS, Mode, RunSpec
from tensorscope.model import Step, Trace


def as_main_process() -> None:
    """The script's multiprocessing sees a main process, as under plain python (its own workers allowed)."""
    from multiprocessing import process

    me = process.current_process()
    me._name, me._identity, me._parent_pid = "MainProcess", (), None  # type: ignore[attr-defined]
    me._parent_name = None  # type: ignore[attr-defined]
    process._parent_process = None  # type: ignore[attr-defined]
    # the fork server set this process's start method to its own; python's default is the platform's
    multiprocessing.set_start_method(None, force=True)


def fresh_random_state() -> None:
    """Seed torch's CPU generator and numpy's global one anew, as a fresh python seeds them when it imports
    them: children of one fork server would otherwise all draw the same numbers (`random` reseeds itself in
    a forked child)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.default_generator.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


class ChildEngine:
    """The child's side: a Session on the script, commands read from the pipe by a thread."""

    def __init__(self, conn: multiprocessing.connection.Connection, spec: RunSpec) -> None:
        self.conn = conn
        self.spec = spec
        self._lock = threading.Lock()
        self._stdin_seen = 0
        self.session: Any = None
        self._held: Step | None = None
        self._batch: list[Step] = []
        """Steps run through without a pause, not sent yet (interactive)."""
        self._batch_since = 0.0
        """The last Step of the run (its end or uncaught exception), sent once the script's exit handlers
        have run, with what they printed."""

    def send(self, msg: tuple[Any, ...]) -> None:
        """Send one message to the parent (from any thread); a parent gone ends the child."""
        try:
            with self._lock:
                self.conn.send(msg)
        except (BrokenPipeError, EOFError, OSError):
            os._exit(1)

    def run(self, session_class: type) -> None:
        """Run the RunSpec with a `session_class` (the Session) to its end, and report the end."""
        from tensorscope.engine.target import ScriptError, ScriptTarget

        spec = self.spec
        try:
            target = ScriptTarget.load(spec.path, list(spec.argv[1:]))
        except ScriptError as exc:
            self.send(("error", str(exc)))
            return
        target = dataclasses.replace(target, display=spec.display, argv=list(spec.argv))
        monitors = None
        if spec.checks:
            import importlib

            module, _, name = spec.checks.partition(":")
            monitors = getattr(importlib.import_module(module), name)()
        try:
            session = self._session(session_class, target, monitors)
        except Exception as exc:  # e.g. --simulate-cuda on a machine with CUDA: the run cannot start
            self.send(("error", str(exc)))
            return
        self.session = session
        if spec.mode == "interactive":
            session.on_between = self._on_between
        session._capture.whole_process = True  # this process is the script's: all its threads' output
        session._capture.hold = True  # kept after the script's last line, for its threads and exit handlers
        session._capture.tap = self._on_output
        # a bare thread: threading.active_count()/enumerate() show the script only its own threads
        _thread.start_new_thread(self._read_commands, ())
        try:
            trace = _drive(session, spec.mode, spec.every_pass)
            if trace.end_reason in ("finished", "exit", "exception"):  # it ended by itself, not stopped
                trace = self._exit_as_python(trace)
        finally:
            session._capture.release()
        self._flush()
        if self._held is not None:
            self.send(("step", self._held))
        self._report_stdin()
        errors = list(getattr(session, "internal_errors", ()))
        self.send(("end", dataclasses.replace(trace, steps=()), errors))

    def _session(self, session_class: Any, target: Any, monitors: Any) -> Any:
        spec = self.spec
        return session_class(
            target,
            trace_modules=spec.trace_modules,
            breakpoints=spec.breakpoints,
            conditions=spec.conditions,
            watches=spec.watches,
            stop_on=spec.stop_on,
            allow_eval=spec.allow_eval,
            monitors=monitors,
            max_steps=spec.max_steps,
            stop_on_flags=spec.stop_on_flags,
            keep_steps=False,
            on_step=self._on_step,
            simulate_cuda=spec.simulate_cuda,
        )

    def _exit_as_python(self, trace: Trace) -> Trace:
        """What python does after the script's last line: wait for its non-daemon threads, then run its
        `atexit` handlers; what they print is the script's output (on the last Step and in the Trace)."""
        capture = self.session._capture  # still installed (held): the script's threads may be printing
        me = threading.current_thread()
        while True:
            waiting = [t for t in threading.enumerate() if not t.daemon and t is not me]
            if not waiting:
                break
            for t in waiting:
                t.join()
        hook = sys.unraisablehook
        sys.unraisablehook = _without_us(hook)
        try:
            atexit._run_exitfuncs()  # as at exit: an error in a handler is printed, not raised
        finally:
            if sys.unraisablehook is not hook:  # unless a handler set its own
                sys.unraisablehook = hook
        out, err = capture.take()
        if self._held is not None and (out or err):
            held = self._held
            self._held = dataclasses.replace(held, stdout=held.stdout + out, stderr=held.stderr + err)
        return dataclasses.replace(trace, stdout=capture.total("stdout"), stderr=capture.total("stderr"))

    def _on_output(self, stream: str, text: str) -> None:
        self.send(("out", stream, text))

    def _report_stdin(self) -> None:
        reads = self.session.stdin_reads if self.session is not None else 0
        if reads != self._stdin_seen:
            self._stdin_seen = reads
            self.send(("stdin", reads))

    def _on_between(self, step: Step) -> None:
        batch = self._batch
        if not batch:
            self._batch_since = time.monotonic()
        batch.append(step)
        if len(batch) >= BATCH_STEPS or time.monotonic() - self._batch_since >= BATCH_SECONDS:
            self._flush()

    def _flush(self) -> None:
        """Send the Steps run through so far (before anything that comes after them)."""
        if self._batch:
            batch, self._batch = self._batch, []
            self.send(("steps", batch))

    def _on_step(self, step: Step) -> None:
        self._flush()
        self._report_stdin()
        if self._held is not None:  # not the last Step after all
            held, self._held = self._held, None
            self.send(("step", held))
        if step.event == "end" or step.event == "exception" and self.spec.mode != "interactive":
            self._held = step  # may be the last: sent after the exit handlers, with what they print
            # (an interactive run's exception is sent at once: the run pauses there, post-mortem)
        else:
            self.send(("step", step))

    def _read_commands(self) -> None:
        session = self.session
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):  # the parent is gone, or let this run go: nothing to report to
                os._exit(1)
            kind = msg[0]
            if kind == "cmd":
                if msg[1] == "interrupt":
                    session.interrupt()
                else:
                    session.send(msg[1])
            elif kind == "stop":
                session.stop(msg[1])
            elif kind == "break":
                _, file, line, on, condition = msg
                if on:
                    session.add_breakpoint(line, file, condition)
                else:
                    session.remove_breakpoint(line, file)
            elif kind == "until":
                session.run_to(msg[2], msg[1])
            elif kind == "eval":
                _, ask, source, frame = msg
                session.evaluate(source, frame, lambda ev, ask=ask: self.send(("evaled", ask, ev)))
            elif kind == "complete":
                _, ask, prefix, frame = msg
                session.complete(prefix, frame, lambda names, ask=ask: self.send(("completed", ask, names)))
            elif kind == "frame":
                _, ask, index = msg
                session.select_frame(index, lambda step, ask=ask: self.send(("framed", ask, step)))
            elif kind == "watches":
                session.set_watches(msg[1], lambda evs: self.send(("watched", evs)))
            elif kind == "stopon":
                session.set_stop_on(msg[1])


def _without_us(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`hook` for errors in exit handlers, shown without this module's frame (python shows none there)."""
    ours = ChildEngine._exit_as_python.__code__

    def unraisable(args: Any) -> Any:
        """The error of an exit handler, reported as python reports it at interpreter exit."""
        frames = []
        tb = args.exc_traceback
        while tb is not None:
            if tb.tb_frame.f_code is not ours:
                frames.append(tb)
            tb = tb.tb_next
        rebuilt = None
        for entry in reversed(frames):
            rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
        return hook(type(args)((args.exc_type, args.exc_value, rebuilt, args.err_msg, args.object)))

    return unraisable


def _drive(session: Any, mode: Mode, every_pass: bool = False) -> Trace:
    """Run the script to its end on this thread: the child's main thread, as under plain python."""
    if mode == "record":
        return session.record()
    if mode == "run":
        return session.run(every_pass=every_pass)
    return session.run_here("step")
