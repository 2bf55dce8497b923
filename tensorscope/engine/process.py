"""The engine process, seen from its parent: the script runs in a child process of its own, as `python
script.py` would run it.

The terminal UI (and `serve`) never imports torch: it starts the engine in a child forked from a fork server
that has already imported torch and the checks (`forking.py`), so a run starts (and restarts) in
milliseconds; the next child is forked ahead of time (the spare). `trace` and `check` fork the same child
(`run_headless`). A child that dies ends the run with its exit status; the parent stays up. The messages
between the two and what the child does at exit are documented in `protocol.py`; the child's side is
`child.py`.
"""

from __future__ import annotations

import atexit
import dataclasses
import multiprocessing
import multiprocessing.connection
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from tensorscope.engine.child import ChildEngine, as_main_process, fresh_random_state
from tensorscope.engine.errors import INTERNAL_ERRORS
from tensorscope.engine.forking import forkserver_context
from tensorscope.engine.protocol import (
    CHILD_NAME,
    ENGINE_MODULES,
    STOP_GRACE,
    Mode,
    RunResult,
    RunSpec,
    spec_for,
)
from tensorscope.model import Evaluation, FrameInfo, Step, Trace

__all__ = [  # (the names the CLI, the TUI and the tests import from here, wherever they are defined)
    "ENGINE_MODULES", "STOP_GRACE", "EngineProcess", "Mode", "RunResult", "RunSpec", "release_spare",
    "run_headless", "spec_for", "take_engine", "warm_up",
]

_LIVE: weakref.WeakSet[EngineProcess] = weakref.WeakSet()


def _kill_all() -> None:
    """At exit: no engine child outlives tensorscope."""
    for engine in list(_LIVE):
        engine.kill()


atexit.register(_kill_all)


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
    as_main_process()
    fresh_random_state()
    from tensorscope.engine.session import Session  # (the fork server has imported it: nothing to load)

    ChildEngine(conn, msg[1]).run(Session)


class EngineProcess:
    """One engine child, seen from the parent: start it early, give it a RunSpec, read what it reports."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self._conn, child_conn = context.Pipe(duplex=True)
        self.process = context.Process(target=_child_main, args=(child_conn,), name=CHILD_NAME)
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
        self._asked = 0
        self._replies: dict[int, Callable[[Any], None]] = {}
        """Requests (eval, complete, frame) waiting for their answer, by id."""
        self._on_watched: Callable[[tuple[Evaluation, ...]], None] | None = None

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

    def set_breakpoint(self, file: str, line: int, on: bool, condition: str | None = None) -> None:
        """Add (`on`) or remove the breakpoint at `line` of `file` (a display path); with a `condition`,
        it pauses only when the condition is true (or cannot be evaluated: the Step says why)."""
        self._post(("break", file, line, on, condition))

    def run_to(self, file: str, line: int) -> None:
        """Continue to `line` of `file` (run to the cursor), or to an earlier breakpoint or flag."""
        self._post(("until", file, line))

    def evaluate(self, source: str, frame: int | None, reply: Callable[[Evaluation], None]) -> None:
        """Evaluate an expression (or run a statement) in frame `frame` of the paused Step's stack (None:
        the innermost); `reply` gets the Evaluation, from the reader thread, once the script has paused
        (None if the run ended first: so do the other requests' replies)."""
        self._post(("eval", self._ask(reply), source, frame))

    def complete(self, prefix: str, frame: int | None, reply: Callable[[tuple[str, ...]], None]) -> None:
        """`reply` gets the names in scope of that frame that start with `prefix` (dotted: attributes)."""
        self._post(("complete", self._ask(reply), prefix, frame))

    def set_watches(self, exprs: tuple[str, ...],
                    reply: Callable[[tuple[Evaluation, ...]], None] | None = None) -> None:
        """Watch `exprs` (evaluated at every pause, on `Step.watches`); when paused, `reply` gets them
        evaluated now."""
        self._on_watched = reply
        self._post(("watches", tuple(exprs)))

    def select_frame(self, index: int, reply: Callable[[Step | None], None]) -> None:
        """`reply` gets the paused Step re-made with the values of frame `index` of its stack."""
        self._post(("frame", self._ask(reply), index))

    def set_stop_on(self, specs: tuple[str, ...]) -> None:
        """The data breakpoints (`stopon` syntax), replacing those set before."""
        self._post(("stopon", tuple(specs)))

    def _ask(self, reply: Callable[[Any], None]) -> int:
        with self._send_lock:
            self._asked += 1
            self._replies[self._asked] = reply
            return self._asked

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
            elif kind in ("step", "steps"):  # a pause (or recorded line), or the lines run through to one
                steps = [msg[1]] if kind == "step" else msg[1]
                self._last = steps[-1]
                self._pending = {"stdout": [], "stderr": []}
                if self._keep_steps:
                    self.steps.extend(steps)
                if kind == "step" and self._on_step is not None:
                    self._on_step(msg[1])
                elif kind == "steps" and self._on_between is not None:
                    self._on_between(steps)
            elif kind in ("evaled", "completed", "framed"):
                reply = self._replies.pop(msg[1], None)
                if reply is not None:
                    reply(msg[2])
            elif kind == "watched":
                if self._on_watched is not None:
                    self._on_watched(msg[1])
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
        with self._send_lock:
            unanswered, self._replies = list(self._replies.values()), {}
        for reply in unanswered:  # (asked while the run was ending: there is nothing left to evaluate)
            reply(None)
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


# --- the spare child, forked ahead ----------------------------------------------------------------------

_server_lock = threading.Lock()
_spare: EngineProcess | None = None
_spare_ready = threading.Condition(_server_lock)
_making_spare = False


def _make_spare() -> None:
    global _spare, _making_spare
    try:
        engine = EngineProcess(forkserver_context())
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
        forkserver_context()
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
        engine = EngineProcess(forkserver_context())
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
    engine = EngineProcess(forkserver_context())
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
