"""The engine process: the script runs in a child process of its own, as `python script.py` would run it.

The terminal UI (and `serve`) never imports torch: it starts the engine in a child forked from a fork
server that has already imported torch and the checks, so a run starts (and restarts) in milliseconds; the
next child is forked ahead of time. `trace` and `check` fork the same child straight from the CLI process
(which has imported torch anyway). In the child the script is the process's own: `os._exit`, signals,
`torch.set_default_device`, DataLoader workers and pickle behave natively. A child that dies (a segfault,
`os._exit`, SIGKILL, out of memory) ends the run with its exit status; the parent stays up. After the
script's last line (or its uncaught exception, or `sys.exit`) the child does what python does at exit:
it waits for the script's non-daemon threads, then runs the `atexit` handlers (the script's, and those
torch and the standard library registered on import, as under python; tensorscope's own is removed);
what they print is the script's output, on its last Step.

Protocol: one duplex pipe (a multiprocessing Connection) per run carries pickled tuples. Both ends are
tensorscope's own code in two processes of one user; nothing from a file is ever unpickled. Pickle is
the faster: on a Step with 50 tensors (8x8, stats and previews) it measured 0.42-0.44 ms to pickle and
unpickle against 6.0-6.6 ms through the JSON model (`_to_json`, `json.dumps`/`loads`, `_from_json`),
6.9 KB against 18.3 KB (Python 3.11, a loaded 2-core machine; `benchmarks/encoding.py`).

parent → child
  ("run", RunSpec)             the first message: what to run and how (a spare child waits for it)
  ("cmd", name)                step | next | finish | continue | interrupt
  ("stop", reason)             end the script at its next line (`stopped`, `timeout`)
  ("break", file, line, on)    add (on=True) or remove a breakpoint (file: a display path)
  EOF                          the parent is gone or let the child go: the child exits at once
child → parent
  ("out", stream, text)        the script wrote `text` to `stdout` or `stderr` (kept if the child dies)
  ("stdin", reads)             the script has read its empty stdin `reads` times so far
  ("step", Step)               a pause (interactive) or a recorded line (`record`)
  ("steps", [Step, ...])       interactive: lines `finish`/`continue` ran through without pausing, in
                               batches (up to BATCH_STEPS, or BATCH_SECONDS old), always before the pause
  ("end", Trace, errors)       the run is over; Trace.steps is empty (the Steps came one by one);
                               `errors`: tensorscope's internal errors, as text
  ("error", message)           the script could not be loaded (missing, not Python, ...)
When the pipe closes with no "end", the child died: the parent makes the end from its exit status
(`exit_code` is the status, or minus the number of the signal that killed it).
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
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from tensorscope.engine.errors import INTERNAL_ERRORS
from tensorscope.model import FrameInfo, Step, Trace

Mode = Literal["interactive", "record", "run"]
ENGINE_MODULES = ("tensorscope.engine.session", "tensorscope.checks")
"""What the fork server imports once (torch with them), so each child starts with it loaded."""
STOP_GRACE = 2.0
BATCH_STEPS = 256
"""Steps run through (finish, continue) sent to the UI together, at most this many per message."""
BATCH_SECONDS = 0.1
"""... or as soon as the oldest waiting one is this old, so a long `continue` shows its progress."""
"""Seconds a child gets to stop at its next line before it is killed."""


@dataclass(frozen=True)
class RunSpec:
    """What a child runs: the script (read again by the child), its arguments and the engine's options."""

    path: str
    """Absolute path of the script."""
    display: str
    argv: tuple[str, ...]
    """`sys.argv` as the script sees it (argv[0] included)."""
    mode: Mode = "interactive"
    trace_modules: tuple[str, ...] = ()
    breakpoints: tuple[tuple[str, int], ...] = ()
    """(display file, line) pairs."""
    max_steps: int | None = None
    stop_on_flags: bool = False
    simulate_cuda: bool = False
    every_pass: bool = False
    """`run` mode: observe every pass of every loop (else, after a loop's first passes, one in a few)."""
    checks: str = "tensorscope.checks:default_checks"
    """`module:function` the child calls for the checks to run ("" for none)."""


@dataclass
class RunResult:
    """How a run ended, seen from the parent."""

    trace: Trace
    internal_errors: list[str] = field(default_factory=list)
    killed: bool = False
    """True when the parent killed the child (it did not end by itself)."""
    error: str | None = None
    """Why the run could not start (the script cannot be loaded, --simulate-cuda on a GPU machine)."""


# --- the child --------------------------------------------------------------------------------------

def _child_main(conn: multiprocessing.connection.Connection) -> None:
    """Entry point of an engine child: wait for a RunSpec, run it, report, exit."""
    try:
        msg = conn.recv()
    except (EOFError, OSError):
        return
    if not (isinstance(msg, tuple) and msg and msg[0] == "run"):
        return
    atexit.unregister(_kill_all)  # the parent's; the libraries' (torch, logging) stay, as under python
    sys.unraisablehook, sys.excepthook = sys.__unraisablehook__, sys.__excepthook__  # python's, not pytest's
    threading.excepthook = threading.__excepthook__
    _as_main_process()
    _ChildEngine(conn, msg[1]).run()


def _as_main_process() -> None:
    """The script's multiprocessing sees a main process, as under plain python (its own workers allowed)."""
    from multiprocessing import process

    me = process.current_process()
    me._name, me._identity, me._parent_pid = "MainProcess", (), None  # type: ignore[attr-defined]
    me._parent_name = None  # type: ignore[attr-defined]
    process._parent_process = None  # type: ignore[attr-defined]
    # the fork server set this process's start method to its own; python's default is the platform's
    multiprocessing.set_start_method(None, force=True)


class _ChildEngine:
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

    def run(self) -> None:
        from tensorscope.engine.session import Session
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
            session = self._session(Session, target, monitors)
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
        if step.event in ("end", "exception"):  # may be the last: sent after the exit handlers
            self._held = step
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
                _, file, line, on = msg
                if on:
                    session.add_breakpoint(line, file)
                else:
                    session.remove_breakpoint(line, file)


def _without_us(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`hook` for errors in exit handlers, shown without this module's frame (python shows none there)."""
    ours = _ChildEngine._exit_as_python.__code__

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


# --- the parent -------------------------------------------------------------------------------------

_LIVE: weakref.WeakSet[EngineProcess] = weakref.WeakSet()


def _kill_all() -> None:
    """At exit: no engine child outlives tensorscope."""
    for engine in list(_LIVE):
        engine.kill()


atexit.register(_kill_all)


class EngineProcess:
    """One engine child, seen from the parent: start it early, give it a RunSpec, read what it reports."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self._conn, child_conn = context.Pipe(duplex=True)
        self.process = context.Process(target=_child_main, args=(child_conn,), name=_CHILD_NAME)
        self.process.start()
        child_conn.close()
        _LIVE.add(self)
        self.spec: RunSpec | None = None
        self.result: RunResult | None = None
        self.stdin_reads = 0
        self.steps: list[Step] = []
        self._keep_steps = False
        self._on_step: Callable[[Step], None] | None = None
        self._on_between: Callable[[list[Step]], None] | None = None
        self._on_end: Callable[[RunResult], None] | None = None
        self._on_output: Callable[[str, str], None] | None = None
        self._out: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._pending: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._last: Step | None = None
        self._stopping: str | None = None
        self._killed = False
        self._send_lock = threading.Lock()
        self._done = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def begin(self, spec: RunSpec, *, on_step: Callable[[Step], None] | None = None,
              on_end: Callable[[RunResult], None] | None = None, keep_steps: bool = False,
              on_output: Callable[[str, str], None] | None = None,
              on_between: Callable[[list[Step]], None] | None = None) -> None:
        """Run `spec` in this child; `on_step`/`on_end`/`on_output` (stream, text: what the script writes,
        as it writes it) are called from a reader thread, and `on_between` with the Steps an interactive
        run went through between two pauses (in order, before the pause's own `on_step`)."""
        self.spec = spec
        self._on_between = on_between
        self._on_step, self._on_end, self._keep_steps = on_step, on_end, keep_steps
        self._on_output = on_output
        self._post(("run", spec))
        self._reader = threading.Thread(target=self._read, name="tensorscope-engine-reader", daemon=True)
        self._reader.start()

    def send(self, cmd: str) -> None:
        """A command: step, next, finish, continue or interrupt."""
        self._post(("cmd", cmd))

    def set_breakpoint(self, file: str, line: int, on: bool) -> None:
        self._post(("break", file, line, on))

    def stop(self, reason: str = "stopped") -> None:
        """Ask the script to end at its next line (never blocks)."""
        if self._stopping is None:
            self._stopping = reason
        self._post(("stop", reason))

    def kill(self) -> None:
        """End the child at once (SIGKILL) and reap it; never blocks for long."""
        self._killed = True
        if self.process.exitcode is None:
            try:
                self.process.kill()
            except (OSError, AttributeError, ValueError):  # already reaped or never started
                pass
        self.process.join(5.0)
        if self._reader is None:  # a spare: nobody else reads the pipe (the reader closes it otherwise)
            self._conn.close()
        _LIVE.discard(self)

    def join(self, timeout: float | None = None) -> RunResult | None:
        """Wait for the end of the run; the result, or None if it is still going."""
        self._done.wait(timeout)
        return self.result

    def _post(self, msg: tuple[Any, ...]) -> None:
        try:
            with self._send_lock:
                self._conn.send(msg)
        except (OSError, ValueError):  # the child is gone: its end is being reported by the reader
            pass

    def _read(self) -> None:
        conn = self._conn
        result: RunResult | None = None
        while result is None:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            kind = msg[0]
            if kind == "out":
                self._out[msg[1]].append(msg[2])
                self._pending[msg[1]].append(msg[2])
                if self._on_output is not None:
                    self._on_output(msg[1], msg[2])
            elif kind == "stdin":
                self.stdin_reads = msg[1]
            elif kind == "step":
                step = msg[1]
                self._last = step
                self._pending = {"stdout": [], "stderr": []}
                if self._keep_steps:
                    self.steps.append(step)
                if self._on_step is not None:
                    self._on_step(step)
            elif kind == "steps":
                steps = msg[1]
                self._last = steps[-1]
                self._pending = {"stdout": [], "stderr": []}
                if self._keep_steps:
                    self.steps.extend(steps)
                if self._on_between is not None:
                    self._on_between(steps)
            elif kind == "end":
                trace = dataclasses.replace(msg[1], steps=tuple(self.steps))
                result = RunResult(trace, list(msg[2]))
                INTERNAL_ERRORS.extend(msg[2])
            elif kind == "error":
                result = RunResult(self._ending(None, error=msg[1]), [msg[1]], error=msg[1])
        conn.close()
        if result is None:
            self.process.join(5.0)
            result = RunResult(self._ending(self.process.exitcode), killed=self._killed)
        else:
            self.process.join(5.0)
            if self.process.exitcode is None:
                self.process.kill()
                self.process.join(5.0)
        _LIVE.discard(self)
        self.result = result
        self._done.set()
        if self._on_end is not None:
            self._on_end(result)

    def _ending(self, status: int | None, error: str = "") -> Trace:
        """The Trace of a child that died (or never ran): its Steps so far, output, and exit status."""
        spec = self.spec
        assert spec is not None
        try:
            with open(spec.path, encoding="utf-8", errors="replace") as f:
                lines = tuple(f.read().splitlines())
        except OSError:
            lines = ()
        steps = list(self.steps)
        if self._stopping is not None or self._killed:
            reason, exit_code, completed = self._stopping or "stopped", None, False
        else:
            reason, exit_code, completed = "exit", status, status == 0
            ended = self._last is not None and self._last.event in ("end", "exception")
            if spec.mode != "run" and not error and not ended:  # the script may have ended just before
                end = self._end_step(lines)
                if self._keep_steps:
                    steps.append(end)
                if self._on_step is not None:
                    self._on_step(end)
        return Trace(script=spec.display, argv=spec.argv[1:], sources={spec.display: lines},
                     steps=tuple(steps), completed=completed, end_reason=reason, exit_code=exit_code,
                     stdout="".join(self._out["stdout"]), stderr="".join(self._out["stderr"]) + error,
                     simulated_cuda=spec.simulate_cuda)

    def _end_step(self, lines: tuple[str, ...]) -> Step:
        """The end Step of a child that died: where the script was last seen, and its output since."""
        spec = self.spec
        assert spec is not None
        last = self._last
        line = last.stack[0].line if last is not None and last.stack else last.line if last else 0
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return Step(index=last.index + 1 if last else 0, file=spec.display, line=line, function="<module>",
                    depth=0, event="end", prev_line=line or None, prev_file=spec.display,
                    stdout="".join(self._pending["stdout"]), stderr="".join(self._pending["stderr"]),
                    stack=(FrameInfo(spec.display, line, "<module>", code),))


# --- starting children: the fork server and the spare --------------------------------------------------

_server_lock = threading.Lock()
_spare: EngineProcess | None = None
_spare_ready = threading.Condition(_server_lock)
_making_spare = False


_CHILD_NAME = "tensorscope-engine"


def _no_main_in_engine_children() -> None:
    """Children of the fork server would first re-run the parent's `__main__` (multiprocessing's rule for
    its own workers); an engine child runs the user's script instead, so for it that step is left out."""
    from multiprocessing import spawn

    original = spawn.get_preparation_data
    if getattr(original, "_tensorscope", False):
        return

    def get_preparation_data(name: str) -> dict[str, Any]:
        """multiprocessing's preparation data, without the parent's main module for engine children."""
        if name != _CHILD_NAME:
            return original(name)
        saved = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # nothing to re-run, nothing to check
        try:
            data = original(name)
        finally:
            if saved is not None:
                sys.modules["__main__"] = saved
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    get_preparation_data._tensorscope = True  # type: ignore[attr-defined]
    spawn.get_preparation_data = get_preparation_data


def _forkserver() -> multiprocessing.context.BaseContext:
    """The fork server's context, its preload set to the engine (the server imports torch, not us)."""
    _no_main_in_engine_children()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(ENGINE_MODULES))
    return context


def _make_spare() -> None:
    global _spare, _making_spare
    try:
        engine = EngineProcess(_forkserver())
    finally:
        with _server_lock:
            _making_spare = False
            _spare_ready.notify_all()
    with _server_lock:
        if _spare is None:
            _spare, engine = engine, None  # type: ignore[assignment]
    if engine is not None:  # someone took a fresh child meanwhile and a spare exists already
        engine.kill()


def warm_up() -> None:
    """Start the fork server and fork a spare child now, in the background (call as early as possible)."""
    global _making_spare
    with _server_lock:
        if _spare is not None or _making_spare:
            return
        _making_spare = True
    try:  # the fork server's own process is spawned here, while sys.stderr is still a real file
        _forkserver()
        from multiprocessing import forkserver

        forkserver.ensure_running()
    except BaseException:
        with _server_lock:
            _making_spare = False
        raise
    threading.Thread(target=_make_spare, name="tensorscope-warm-up", daemon=True).start()


def take_engine() -> EngineProcess:
    """A child ready to run (the spare, or a new one), and a new spare forked behind it. May block while
    the fork server starts (the first time only): call it off the UI thread."""
    global _spare
    with _server_lock:
        while _spare is None and _making_spare:
            _spare_ready.wait(60.0)
        engine, _spare = _spare, None
    if engine is None or engine.process.exitcode is not None:
        engine = EngineProcess(_forkserver())
    warm_up()
    return engine


def release_spare() -> None:
    """Kill the spare child (at the end of a UI session)."""
    global _spare
    with _server_lock:
        engine, _spare = _spare, None
    if engine is not None:
        engine.kill()


# --- headless runs (trace, check) -------------------------------------------------------------------

def run_headless(spec: RunSpec, timeout: float | None = None,
                 on_step: Callable[[Step], None] | None = None,
                 on_output: Callable[[str, str], None] | None = None) -> RunResult:
    """Run `spec` (mode `record` or `run`) in an engine child; the result at its end.

    The child comes from the fork server, as in the TUI: never from this process, which may have touched
    CUDA (a CUDA build of torch refuses to initialise CUDA in a child forked after that) or run threads.
    `timeout` seconds, or Ctrl+C (KeyboardInterrupt here), stop the script at its next line; a script
    stuck where no line of its own runs is killed after STOP_GRACE seconds, its Steps and output kept.
    """
    engine = EngineProcess(_forkserver())
    engine.begin(spec, on_step=on_step, keep_steps=spec.mode == "record", on_output=on_output)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not engine.finished:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            engine.join(wait)
            if deadline is not None and not engine.finished and time.monotonic() >= deadline:
                _stop_or_kill(engine, "timeout")
    except KeyboardInterrupt:
        _stop_or_kill(engine, "stopped")
    result = engine.join()
    assert result is not None
    if engine._stopping is not None and result.trace.end_reason != engine._stopping:
        if not result.trace.completed and result.trace.end_reason in ("exception", "stopped", "exit"):
            result.trace = dataclasses.replace(result.trace, end_reason=engine._stopping)
    return result


def _stop_or_kill(engine: EngineProcess, reason: str) -> None:
    engine.stop(reason)
    if engine.join(STOP_GRACE) is None:
        engine.kill()
        engine.join(10.0)


def spec_for(target: Any, mode: Mode, *, trace_modules: Iterable[str] = (),
             breakpoints: Iterable[tuple[str, int]] = (), max_steps: int | None = None,
             stop_on_flags: bool = False, simulate_cuda: bool = False, every_pass: bool = False,
             checks: str = RunSpec.checks) -> RunSpec:
    """The RunSpec of a ScriptTarget."""
    return RunSpec(path=str(target.path), display=target.display, argv=tuple(target.argv), mode=mode,
                   trace_modules=tuple(trace_modules), breakpoints=tuple(breakpoints), max_steps=max_steps,
                   stop_on_flags=stop_on_flags, simulate_cuda=simulate_cuda, every_pass=every_pass,
                   checks=checks)
