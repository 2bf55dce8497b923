"""Run a script line by line, pausing as a debugger does, and record Steps.

The script runs on the thread that calls `run_here`, `record` or `run` (the engine's main thread), or on
a worker thread with `start`. Works without a UI: the TUI's engine, `trace` and `check` all drive this
same Session.
"""

from __future__ import annotations

import dataclasses
import queue
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterable
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any, TextIO

import torch

import tensorscope.engine.fastpath as fastpath
from tensorscope.engine.capture import OutputCapture
from tensorscope.engine.caught import CaughtPitfalls, readable
from tensorscope.engine.collect import StatsCache, collect, scope_of
from tensorscope.engine.commands import COMMANDS, Command
from tensorscope.engine.errors import INTERNAL_ERRORS, exception_type
from tensorscope.engine.fastpath import LibraryCalls, untraced_library_calls
from tensorscope.engine.inner import COMPREHENSIONS, INNER, InnerFrames, function_of
from tensorscope.engine.instrument import Instrument, is_disguise, with_instrument
from tensorscope.engine.losswatch import LossWatch
from tensorscope.engine.monitor import Monitor
from tensorscope.engine.sampling import COUNT, DARK, GO_DARK, OBSERVE, WAKE, PassSampler, loops_in
from tensorscope.engine.simcuda import SimulatedCuda
from tensorscope.engine.stepping import finally_starts, is_new_step, pauses_at, statement_starts
from tensorscope.engine.target import ScriptTarget, display_path
from tensorscope.engine.tracer import Tracer, make_tracer
from tensorscope.model import ExceptionInfo, Flag, FrameInfo, RaisedInfo, Severity, Step, Trace

STACK_SHOWN = 32
"""How many of the user's frames a Step keeps (the outermost, the innermost): deep recursion stays cheap."""




class _StopScript(BaseException):
    """Raised inside the script's frame to end it (stop, step cap, timeout)."""


class Session:
    """One run of one script. Interactive (`start` + `command`) or headless (`record`, `run`)."""

    def __init__(
        self,
        script: str | ScriptTarget,
        argv: Iterable[str] = (),
        *,
        trace_modules: Iterable[str] = (),
        breakpoints: Iterable[tuple[str, int] | int] = (),
        monitors: Iterable[Monitor] | None = None,
        max_steps: int | None = None,
        stop_on_flags: bool = False,
        echo: TextIO | None = None,
        on_step: Callable[[Step], None] | None = None,
        on_end: Callable[[Trace], None] | None = None,
        keep_steps: bool = True,
        simulate_cuda: bool = False,
    ) -> None:
        self.target = script if isinstance(script, ScriptTarget) else ScriptTarget.load(script, list(argv))
        self.trace_modules = tuple(trace_modules)
        self._given: list[Monitor] = list(monitors or ())
        self._loss_watch: LossWatch | None = LossWatch()  # what Step.loss reports (not under `check`)
        self.monitors: list[Monitor] = with_instrument([*self._given, self._loss_watch])  # one layer
        self.max_steps = max_steps
        self.stop_on_flags = stop_on_flags
        self.on_step = on_step
        """Called in the worker thread with each Step; when set, `wait()` returns only the end (None)."""
        self.on_between: Callable[[Step], None] | None = None
        """Interactive runs (the TUI): called with a Step at each line and return that `finish` or `continue`
        runs through without pausing (what `record` would record there), so every step stays in the history;
        `next` only counts them. Step indexes then match `record`'s. None: only pauses make Steps."""
        self.on_end = on_end
        self.keep_steps = keep_steps
        self.simulate_cuda = simulate_cuda
        self._sim = SimulatedCuda() if simulate_cuda else None  # raises SimulateCudaError on a GPU machine
        self.steps: list[Step] = []
        self.flags: list[Flag] = []
        self.trace: Trace | None = None
        """The finished run, once the script has ended."""

        self._capture = OutputCapture(echo=echo)
        self._user_files: set[str] = {str(self.target.path)}
        self._display: dict[str, str] = {str(self.target.path): self.target.display}
        self._sources: dict[str, tuple[str, ...]] = {self.target.display: self.target.lines}
        self._user_code: dict[int, tuple[types.CodeType, bool]] = {}
        self._inner_monitors: list[Monitor] = [m for m in self.monitors if m.wants_inner_lines]
        self._layer = next((m for m in self.monitors if isinstance(m, Instrument)), None)
        self._pitfalls = CaughtPitfalls()
        self._starts_by_file: dict[str, dict[int, int]] = {}
        """Per file: line -> first line of its statement (a multi-line statement is one step)."""
        self._depth: dict[types.FrameType, int] = {}
        self._raised: RaisedInfo | None = None
        """The last exception raised in the user's code, until the next Step carries it."""
        self._raised_exc: BaseException | None = None
        self._raised_info: RaisedInfo | None = None
        """What `_raised_exc` is (kept once a Step has carried it, for the Step that shows it caught)."""
        self._catch_frame: types.FrameType | None = None
        """The frame the last raised exception is in now (where a handler would catch it)."""
        self.tracer: Tracer | None = None
        """The tracer backend of this run (sys.monitoring or sys.settrace), once it starts."""
        self._breaks: frozenset[tuple[str, int]] = frozenset()
        for bp in breakpoints:
            if isinstance(bp, int):
                self.add_breakpoint(bp)
            else:
                self.add_breakpoint(bp[1], bp[0])
        self._stats = StatsCache()
        self._frame_infos: dict[tuple[str, int, str, int], FrameInfo] = {}
        self._frames: dict[tuple[FrameInfo, ...], tuple[FrameInfo, ...]] = {}
        self._pending_flags: list[Flag] = []
        self._line_monitors: list[Monitor] = [m for m in self.monitors if m.wants_lines]
        self._mode: str = "step"
        self._cmd_depth = 0
        self._interactive = False
        self._record = True
        self._commands: queue.Queue[str] = queue.Queue()
        self._events: queue.Queue[Step | Trace] = queue.Queue()
        self._stop = threading.Event()
        self._stop_reason = "stopped"
        self._thread: threading.Thread | None = None
        self._launched = False
        self._sent = 0
        """Commands sent so far (through `send`)."""
        self._applied = 0
        """Commands the script has taken so far: the one it runs now is number `_applied`."""
        self._interrupt_at = -1
        """`interrupt()` pauses the run of every command up to this number (-1: none)."""
        self._lock = threading.Lock()
        self._script_ident: int | None = None
        """The thread running the script (set once it starts)."""
        self._running = False
        """True while the script's code may be running (a timeout may interrupt it then)."""
        self._kicked = False
        """The timeout watchdog interrupted the script's thread with SIGINT."""
        self._cur_frame: types.FrameType | None = None
        self._inner = InnerFrames()
        """The lambda or genexpr that runs inside `_cur_frame`, if one does."""
        self._quiet_inner: dict[tuple[str, int], bool] = {}
        """Per (file, line) of a lambda or genexpr: whether no monitor has anything to watch there."""
        self._quiet_codes: dict[int, types.CodeType] = {}
        """Lambdas and genexprs of one statement with nothing to watch: their frames need no events."""
        self._frame_line: dict[types.FrameType, int] = {}
        """The last line each live user frame ran: what a pause marks as "just executed"."""
        self._last_module_line = 0
        self._step_count = 0
        self._sampler: PassSampler | None = None
        self._analyses: dict[tuple[str, Callable[[str], Any]], Any] = {}
        """Per (file, analysis): its loops, its `finally:` bodies (`_of_file`)."""
        """`run()` only: which passes of the user's loops are observed (None: every line is)."""
        self.internal_errors: list[str] = []
        """Errors inside tensorscope's own bookkeeping (kept out of the script; tests assert none)."""

    # --- public API ------------------------------------------------------------------------------

    @property
    def display(self) -> str:
        return self.target.display

    @property
    def finished(self) -> bool:
        return self.trace is not None

    @property
    def stdin_reads(self) -> int:
        """How many times the script read its stdin (empty while tensorscope runs it: input() gets EOF)."""
        return self._capture.stdin_reads

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

    def record(self, timeout: float | None = None) -> Trace:
        """Run headless to the end, recording a Step at every line; return the Trace."""
        self._interactive = False
        self._record = True
        self._mode = "step"
        return self._headless(timeout)

    def run(self, timeout: float | None = None, *, every_pass: bool = False) -> Trace:
        """Run headless to the end without recording steps (flags only): the fast path of `check`.

        A loop's passes are all observed up to `sampling.FULL_PASSES`, then one in `sampling.EVERY`
        (`every_pass`: all of them), unless breakpoints, `stop_on_flags` or `max_steps` need every line.
        """
        self._interactive = False
        self._record = False
        self._mode = "continue"
        self._use_monitors(self._given)  # (no Steps: no loss to report)
        if not (every_pass or self._breaks or self.stop_on_flags or self.max_steps is not None):
            self._sampler = PassSampler(self._loops_of)
        return self._headless(timeout)

    def _use_monitors(self, monitors: list[Monitor]) -> None:
        """Run with `monitors` (before the script starts): `run()` leaves the loss watch out."""
        self._loss_watch = next((m for m in monitors if isinstance(m, LossWatch)), None)
        self.monitors = with_instrument(monitors)
        self._inner_monitors = [m for m in self.monitors if m.wants_inner_lines]
        self._layer = next((m for m in self.monitors if isinstance(m, Instrument)), None)
        self._line_monitors = [m for m in self.monitors if m.wants_lines]

    @property
    def unobserved(self) -> bool:
        """True while a sampled-out pass of a loop runs (`run()` only): hooks fired now stay quiet."""
        sampler = self._sampler
        return sampler is not None and sampler.frame is not None

    @property
    def unobserved_passes(self) -> int:
        """How many loop passes ran unobserved (`run()`'s sampling)."""
        return 0 if self._sampler is None else self._sampler.unobserved_passes

    # --- RunContext for monitors ------------------------------------------------------------------

    def emit(
        self,
        code: str,
        severity: Severity,
        message: str,
        hint: str,
        tensors: tuple[str, ...] = (),
        data: dict[str, str] | None = None,
        line: int | None = None,
        where: tuple[str, str] | None = None,
    ) -> Flag:
        """A flag at `line` of the running function, or of `where` (its file as flags show it, function)."""
        file, cur_line, function = self.location()
        file = "" if file == self.target.display else file
        if where is not None:
            file, function = where
        flag = Flag(
            code=code,
            severity=severity,
            line=line if line is not None else cur_line,
            function=function,
            message=message,
            hint=hint,
            tensors=tuple(tensors),
            file=file,
            data=dict(data or {}),
        )
        self._pending_flags.append(flag)
        self.flags.append(flag)
        return flag

    def user_frame(self) -> types.FrameType | None:
        return self._inner.innermost(self._cur_frame)

    def location(self) -> tuple[str, int, str]:
        f = self._inner.innermost(self._cur_frame)
        if f is None:
            return self.target.display, self._last_module_line, "<module>"
        return self._display_of(f.f_code.co_filename), self._line_of(f), function_of(f.f_code)

    def source_line(self, frame: types.FrameType | None = None, line: int | None = None) -> str:
        f = frame or self._inner.innermost(self._cur_frame)
        if f is None:
            return ""
        lines = self._sources.get(self._display_of(f.f_code.co_filename), ())
        n = line if line is not None else (f.f_lineno or 0)
        return lines[n - 1] if 0 < n <= len(lines) else ""

    def is_user_code(self, code: types.CodeType) -> bool:
        """Whether `code` belongs to the user's files (the script and --trace modules)."""
        known = self._user_code.get(id(code))  # (hashing a code object hashes its bytecode: by id)
        if known is None or known[0] is not code:
            known = self._user_code[id(code)] = (code, code.co_filename in self._user_files)
        return known[1]

    # --- running the script ---------------------------------------------------------------------------

    def _headless(self, timeout: float | None) -> Trace:
        """Run to the end on the calling thread (a worker thread only when a timeout could not otherwise
        interrupt a script stuck in a long call: off the main thread, signals cannot reach it)."""
        if timeout is not None and threading.current_thread() is not threading.main_thread():
            return self._run_to_end(timeout)
        return self._run_here(timeout)

    def _claim(self) -> None:
        if self._launched:
            raise RuntimeError("a Session runs its script once; make a new Session to restart")
        self._launched = True

    def _run_here(self, timeout: float | None) -> Trace:
        self._claim()
        self._resolve_trace_modules()
        self._capture.install(script_threads=(threading.get_ident(),))  # this thread's I/O is the script's
        done = threading.Event()
        watchdog = None
        if timeout is not None:
            watchdog = threading.Thread(target=self._watchdog, args=(timeout, done),
                                        name="tensorscope-timeout", daemon=True)
        try:
            try:
                if watchdog is not None:
                    watchdog.start()
                self._execute()
            finally:
                done.set()
                if watchdog is not None:
                    watchdog.join()
        except KeyboardInterrupt:  # the watchdog's SIGINT landed just after the script had ended
            if not self._kicked:
                raise
        if self.trace is None:
            self.trace = self._make_trace(False, "timeout", None, None)
        return self.trace

    def _watchdog(self, timeout: float, done: threading.Event) -> None:
        """At the deadline, end the script at its next line; if it is stuck in a long call (a sleep, a
        blocking read), interrupt that call with SIGINT as Ctrl+C would."""
        if done.wait(timeout):
            return
        self.stop("timeout")
        if done.wait(0.5):
            return
        with self._lock:
            ident = self._script_ident
            if (self._running and ident == threading.main_thread().ident
                    and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
                self._kicked = True
                signal.pthread_kill(ident, signal.SIGINT)

    def _run_to_end(self, timeout: float | None) -> Trace:
        self._launch()
        deadline = None if timeout is None else time.monotonic() + timeout
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.1)
                if deadline is not None and time.monotonic() > deadline:
                    self.stop("timeout")
                    self._thread.join(2.0)
                    break
        except KeyboardInterrupt:
            self.stop("stopped")
            self._thread.join(2.0)
        if self.trace is None:  # the script is stuck inside a call that never returns to its code
            self.trace = self._make_trace(False, self._stop_reason, None, None)
        return self.trace

    def _launch(self) -> None:
        self._claim()
        self._resolve_trace_modules()
        self._capture.install()
        self._thread = threading.Thread(target=self._execute, name="tensorscope-script", daemon=True)
        self._thread.start()

    def _resolve_trace_modules(self) -> None:
        import importlib.util

        for name in self.trace_modules:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            if spec is None:
                script_dir = self.target.path.parent
                candidate = script_dir / (name.replace(".", "/") + ".py")
                files = [candidate] if candidate.exists() else []
            elif spec.submodule_search_locations:
                files = [p for d in spec.submodule_search_locations for p in Path(d).rglob("*.py")]
            elif spec.origin:
                files = [Path(spec.origin)]
            else:
                files = []
            for f in files:
                path = str(f.absolute())
                self._user_files.add(path)
                try:
                    text = f.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    text = ""
                self._sources[self._display_of(path)] = tuple(text.splitlines())

    def _execute(self) -> None:
        """Run the script on this thread to its end, then publish the Trace."""
        completed, reason = False, "finished"
        exc_info: ExceptionInfo | None = None
        exit_code: int | None = None
        target = self.target
        assert target.code is not None
        with ExitStack() as stack:
            with target.as_main() as namespace:
                self._namespace = namespace
                if self._sim is not None:  # first, so the monitors see devices as the script does
                    stack.enter_context(self._sim.activate())
                for m in self.monitors:
                    cm = m.activate(self)
                    if cm is not None:
                        stack.enter_context(cm)
                if sys.version_info < (3, 12):  # 3.12+ pays nothing for library code anyway
                    library = LibraryCalls(self._user_files, self.trace_modules)
                    stack.enter_context(untraced_library_calls(library))  # after the monitors' patches
                with self._lock:
                    self._script_ident = threading.get_ident()
                    self._running = True
                tracer = self.tracer = make_tracer(self)
                tracer.start()
                try:
                    exec(target.code, namespace)
                    completed = True
                except _StopScript:
                    reason = self._stop_reason
                except SystemExit as exc:
                    tracer.stop()
                    exit_code = self._exit_status(exc)
                    completed, reason = exit_code == 0, "exit"
                except KeyboardInterrupt as exc:
                    tracer.stop()
                    if self._kicked:  # the timeout interrupted a long call
                        reason = self._stop_reason
                    elif not self._interactive and _from_signal(exc):  # Ctrl+C on `trace`/`check`
                        reason = "stopped"  # keep what was recorded
                    else:
                        reason = "exception"
                        exc_info = self._on_script_exception(exc)
                except BaseException as exc:  # the script's own error: becomes a Step
                    tracer.stop()
                    reason = "exception"
                    exc_info = self._on_script_exception(exc)
                finally:
                    tracer.stop()
                    with self._lock:
                        self._running = False
                    self._cur_frame = None
                self._tell(self.monitors, "on_finish")
                if reason in ("finished", "exit") and (self._record or self._interactive):
                    self._end_step(namespace)
        self._capture.uninstall()
        self.trace = self._make_trace(completed, reason, exc_info, exit_code)
        self._events.put(self.trace)
        if self.on_end is not None:
            self.on_end(self.trace)

    def _exit_status(self, exc: SystemExit) -> int:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        # plain python prints a non-int exit argument to stderr and exits 1
        sys.stderr.write(f"{code}\n")
        return 1

    def _make_trace(
        self, completed: bool, reason: str, exc: ExceptionInfo | None, exit_code: int | None
    ) -> Trace:
        return Trace(
            script=self.target.display,
            argv=tuple(self.target.argv[1:]),
            sources=dict(self._sources),
            steps=tuple(self.steps),
            completed=completed,
            end_reason=reason,
            exception=exc,
            exit_code=exit_code,
            stdout=self._capture.total("stdout"),
            stderr=self._capture.total("stderr"),
            flags=tuple(self.flags),
            simulated_cuda=self._sim is not None,
            internal_errors=tuple(self.internal_errors),
        )

    # --- tracing: the TraceHandler the tracer backend calls ------------------------------------------

    def traced(self, code: types.CodeType) -> bool:
        """Whether the tracer reports `code`'s events: the user's code but comprehensions. A lambda's or a
        genexpr's lines are not steps: they go only to the monitors that want them (`_inner_line`), so the
        checks see its operations as the user's, at its own line. (Not the instrumentation's disguises:
        lambdas compiled with a user's file and line, for warnings.)"""
        name = code.co_name
        return self.is_user_code(code) and name not in COMPREHENSIONS and not (
            name == "<lambda>" and is_disguise(code))

    def source_of(self, code: types.CodeType) -> str:
        """The text of the file `code` was compiled from, as this session read it."""
        if code.co_filename == str(self.target.path):
            return self.target.source
        return "\n".join(self._sources.get(self._display_of(code.co_filename), ()))

    def _of_file(self, code: types.CodeType, analyse: Callable[[str], Any]) -> Any:
        """`analyse(source)` of the file `code` comes from, computed once per file."""
        key = (code.co_filename, analyse)
        found = self._analyses.get(key)
        if found is None:
            found = self._analyses[key] = analyse(self.source_of(code))
        return found

    def _loops_of(self, code: types.CodeType) -> dict[int, frozenset[int]]:
        """The loops of the file `code` comes from (header line -> body lines)."""
        return self._of_file(code, loops_in)  # type: ignore[no-any-return]

    def _statement(self, code: types.CodeType, line: int) -> int:
        """The first line of the statement `line` belongs to in `code`'s file."""
        starts = self._starts_by_file.get(code.co_filename)
        if starts is None:
            starts = self._starts_by_file[code.co_filename] = statement_starts(self.source_of(code))
        return starts.get(line, line)

    def _line_of(self, frame: types.FrameType) -> int:
        return self._statement(frame.f_code, frame.f_lineno or 0) if frame.f_lineno else 0

    def enter(self, frame: types.FrameType) -> bool:
        """A stepped frame starts or resumes: note its depth among the user's frames. True: it runs inside
        an unobserved pass (the tracer may switch this event off until `wake`)."""
        sampler = self._sampler
        if sampler is not None and sampler.frame is not None and sampler.below(frame):
            return True
        if frame.f_code.co_name in INNER:  # (a genexpr resumed: its first line was seen when it started)
            return id(frame.f_code) in self._quiet_codes or self._inner.resumed(frame)
        parent = frame.f_back
        depth = 0
        while parent is not None:
            d = self._depth.get(parent)
            if d is not None:
                depth = d + 1
                break
            parent = parent.f_back
        self._depth[frame] = depth
        return False

    def line(self, frame: types.FrameType, line: int, back_jump: bool) -> bool:
        """A line event: a step when it starts a new statement (or a loop comes back to its line).
        True: the line runs inside an unobserved pass (the tracer may switch its event off)."""
        if frame.f_code.co_name in INNER:  # (a genexpr's next item: nothing new to see, its event may stop)
            return True if back_jump else self._inner_line(frame, line)
        try:
            start = self._statement(frame.f_code, line) if line else 0
            seen = OBSERVE
            if self._sampler is not None:
                seen = self._sampler.line(frame, start)
                if seen == DARK:
                    return True
                if seen == COUNT:
                    if self._stop.is_set():
                        raise _StopScript
                    return False
                if seen == WAKE:
                    self._wake()
            if seen == OBSERVE and not is_new_step(self._frame_line.get(frame), start, back_jump):
                return False
            if frame is self._catch_frame and self._raised_info is not None \
                    and start not in self._of_file(frame.f_code, finally_starts):
                self._caught(frame, start)
            self._on_line(frame, start)
            if seen == GO_DARK:
                self._gap(frame)
        except _StopScript:
            raise
        except Exception as exc:  # a bug of ours must never become the script's exception
            self._internal("engine (line)", exc)
        return False

    def leave(self, frame: types.FrameType, unwinding: bool) -> bool:
        """A stepped frame returns, yields or is unwound by an exception. True: it ran inside an unobserved
        pass (the tracer may switch this event off)."""
        sampler = self._sampler
        if frame.f_code.co_name in INNER:
            return True  # (nothing to do: `InnerFrames.innermost` finds out that it no longer runs)
        if sampler is not None and sampler.frame is not None:
            if frame is sampler.frame:
                sampler.end()
                self._wake()
            elif sampler.below(frame):
                return True
        try:
            self._on_return(frame, unwinding)
        except _StopScript:
            raise
        except Exception as exc:
            self._internal("engine (return)", exc)
        return False

    def _wake(self) -> None:
        """An unobserved pass is over: every event the tracer switched off fires again, and the monitors
        catch up on what the loop's unobserved passes left behind."""
        self._frame_line.clear()  # (the lines in between ran unseen: the next one is a new step)
        tracer = self.tracer
        if tracer is not None:
            tracer.wake()
            fastpath.rest(False)
        sampler = self._sampler
        ended = sampler.ended if sampler is not None else None
        if sampler is not None and ended is not None:
            sampler.ended = None
            self._tell(self._line_monitors, "on_resume", *ended)

    def _gap(self, frame: types.FrameType) -> None:
        """The line just seen starts an unobserved pass: monitors learn that lines go unseen from here."""
        tracer = self.tracer
        if tracer is not None:
            tracer.quiet(frame)
            fastpath.rest(True)
        self._tell(self._line_monitors, "on_gap")

    def raised(self, frame: types.FrameType, exc: BaseException) -> None:
        """An exception is raised in a stepped frame, or propagates into one."""
        if isinstance(exc, _StopScript) or frame.f_code.co_name in INNER:
            return  # (the stepped frame it reaches next is where the Step shows it raised)
        if sys.version_info < (3, 12):
            fastpath.recover()  # (an optimizer step that raised left tracing as it set it for the step)
        sampler = self._sampler
        if sampler is not None and sampler.end():  # an exception inside an unobserved pass: watch again
            self._wake()
        try:
            if exc is self._raised_exc:  # the same exception, now in a caller
                self._catch_frame = frame
                return
            line = self._line_of(frame)
            self._raised_exc = exc
            self._catch_frame = frame
            self._raised = self._raised_info = RaisedInfo(
                type=exception_type(exc),
                message=_safe_message(exc),
                line=line,
                function=frame.f_code.co_name,
                file=self._display_of(frame.f_code.co_filename),
            )
            self._cur_frame = frame
            self._tell(self.monitors, "on_raise", exc, frame, line)
        except Exception as err:
            self._internal("engine (raise)", err)

    def handled(self, frame: types.FrameType, exc: BaseException) -> None:
        """A handler in `frame` catches `exc`: the next step there is where it was caught."""
        if exc is self._raised_exc and frame.f_code.co_name not in INNER:
            self._catch_frame = frame

    def _caught(self, frame: types.FrameType, line: int) -> None:
        raised, exc = self._raised_info, self._raised_exc
        assert raised is not None and exc is not None
        self._raised = dataclasses.replace(raised, caught_line=line)
        self._catch_frame = None
        self._raised_exc = self._raised_info = None
        self._cur_frame = frame
        self._tell(self.monitors, "on_handled", exc, frame, line)
        self._explain_caught(exc, frame, line)

    def _explain_caught(self, exc: BaseException, catcher: types.FrameType, caught: int) -> None:
        """The checks explain a pitfall the script caught, at the line that raised it (`engine.caught`)."""
        found = self._pitfalls.to_explain(exc, self._user_files, caught,
                                          self._display_of(catcher.f_code.co_filename), self._display_of)
        if found is None:
            return
        frame, line, at, key = found
        inner, self._inner.current = self._inner.current, None
        self._cur_frame = frame  # (where the flag is, as for an uncaught exception)
        try:
            with self._layer.outside() if self._layer is not None else nullcontext():
                for m in self.monitors:
                    try:
                        if m.on_caught(self, exc, frame, line, at):
                            self._pitfalls.explained(exc, key)
                            break
                    except Exception as err:
                        self._internal(_monitor_name(m), err)
        finally:
            self._cur_frame, self._inner.current = catcher, inner

    def _inner_line(self, frame: types.FrameType, line: int) -> bool:
        """A line of a lambda or genexpr of the user's: not a step, but the monitors that watch operations
        (`wants_inner_lines`) see it as the user's line. True: its event may stop (an unobserved pass, or
        nothing to watch there)."""
        sampler = self._sampler
        if sampler is not None and sampler.frame is not None:
            return True
        try:
            start = self._statement(frame.f_code, line) if line else 0
            key = (frame.f_code.co_filename, start)
            quiet = self._quiet_inner.get(key)
            if quiet is None:
                quiet = self._quiet_inner[key] = not start or all(
                    m.quiet_inner_line(self, frame, start) for m in self._inner_monitors)
            if quiet:
                code = frame.f_code
                if all(n is None or self._statement(code, n) == start for _, _, n in code.co_lines()):
                    self._quiet_codes[id(code)] = code  # (one statement, nothing to watch: no events at all)
                return True  # (nothing to watch at this line: its event may stop)
            if not self._inner.new_line(frame, start):
                return False
            for m in self._inner_monitors:
                try:
                    m.on_line(self, frame, start)
                except Exception as exc:
                    self._internal(_monitor_name(m), exc)
        except Exception as exc:
            self._internal("engine (line)", exc)
        return False

    def _tell(self, monitors: list[Monitor], hook: str, *args: Any) -> None:
        """Call `hook(self, *args)` on each monitor; an error inside one is recorded, the others still run."""
        for m in monitors:
            try:
                getattr(m, hook)(self, *args)
            except Exception as exc:
                self._internal(_monitor_name(m), exc)

    def _internal(self, who: str, exc: BaseException) -> None:
        """Record an error inside tensorscope (a check's or the engine's), with its traceback."""
        text = f"{who}: " + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
        self.internal_errors.append(text)
        INTERNAL_ERRORS.append(text)

    def _on_line(self, frame: types.FrameType, line: int) -> None:
        if self._stop.is_set():
            raise _StopScript
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
                self._internal(_monitor_name(m), exc)
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
            raise _StopScript
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
                raise _StopScript
            try:
                return self._commands.get(timeout=0.1)
            except queue.Empty:
                continue

    def _apply(self, cmd: str, depth: int) -> None:
        self._applied += 1
        self._mode = cmd
        self._cmd_depth = depth

    # --- making Steps -----------------------------------------------------------------------------

    def _display_of(self, filename: str) -> str:
        shown = self._display.get(filename)
        if shown is None:
            shown = display_path(filename)
            self._display[filename] = shown
        return shown

    def _abs(self, file: str | None) -> str:
        if file is None:
            return str(self.target.path)
        for absolute, shown in self._display.items():
            if file == shown:
                return absolute
        return str(Path(file).absolute())

    def _stack(self, frame: types.FrameType | None) -> tuple[FrameInfo, ...]:
        frames: list[FrameInfo] = []
        f = frame
        while f is not None:
            if f in self._depth or f is frame:
                frames.append(self._frame_info(f, self._line_of(f)))
            f = f.f_back
        stack = tuple(reversed(frames))
        if len(self._frames) > 10_000:
            self._frames.clear()
        return self._frames.setdefault(stack, stack)  # one copy per distinct stack: long histories stay small

    def _frame_info(self, f: types.FrameType, line: int) -> FrameInfo:
        fc = f.f_code
        key = (fc.co_filename, fc.co_firstlineno, fc.co_name, line)  # (not the code: its hash is slow)
        info = self._frame_infos.get(key)
        if info is None:
            display = self._display_of(f.f_code.co_filename)
            lines = self._sources.get(display, ())
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            info = FrameInfo(file=display, line=line, function=f.f_code.co_name, code=code)
            self._frame_infos[key] = info
        return info

    def _make_step(
        self,
        frame: types.FrameType | None,
        event: str,
        line: int,
        prev: tuple[str, int] | None,
        namespace: dict[str, Any] | None = None,
        exception: ExceptionInfo | None = None,
        stack: tuple[FrameInfo, ...] | None = None,
    ) -> Step:
        scope = namespace if namespace is not None else scope_of(frame) if frame else {}
        device_name = self._sim.device_name if self._sim is not None else None
        seen = collect(scope, self._stats, device_name, self._internal)
        loss, loss_name = self._loss_watch.take(scope) if self._loss_watch is not None else (None, None)
        out, err = self._capture.take()
        flags = tuple(self._pending_flags)
        self._pending_flags.clear()
        raised, self._raised = self._raised, None
        file = self._display_of(frame.f_code.co_filename) if frame else self.target.display
        if stack is None:
            stack = self._stack(frame)
        depth = max(0, len(stack) - 1)
        if len(stack) > STACK_SHOWN:  # deep recursion: the outermost frame and the innermost ones
            stack = stack[:1] + stack[-(STACK_SHOWN - 1):]
        return Step(
            index=self._step_count,
            file=file,
            line=line,
            function=frame.f_code.co_name if frame else "<module>",
            depth=depth,
            event=event,  # type: ignore[arg-type]
            prev_line=prev[1] if prev else None,
            prev_file=prev[0] if prev else None,
            tensors=seen.tensors,
            optimizers=seen.optimizers,
            flags=flags,
            stdout=out,
            stderr=err,
            exception=exception,
            raised=raised,
            grad_enabled=torch.is_grad_enabled(),
            stack=stack,
            more=seen.more,
            inference_mode=torch.is_inference_mode_enabled(),
            loss=loss,
            loss_name=loss_name,
        )

    def _end_step(self, namespace: dict[str, Any]) -> None:
        line = self._last_module_line
        info = FrameInfo(self.target.display, line, "<module>", self._module_code(line))
        here = (self.target.display, line)
        step = self._make_step(None, "end", line, here, namespace=namespace, stack=(info,))
        self._publish(step)

    def _module_code(self, line: int) -> str:
        lines = self.target.lines
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""

    def _on_script_exception(self, exc: BaseException) -> ExceptionInfo:
        user_tbs = []
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename in self._user_files:
                user_tbs.append(tb)
            tb = tb.tb_next
        frames = tuple(self._frame_info(t.tb_frame, t.tb_lineno) for t in user_tbs)
        last = user_tbs[-1] if user_tbs else None
        frame = last.tb_frame if last is not None else None
        line = last.tb_lineno if last is not None else self._last_module_line
        info = ExceptionInfo(
            type=exception_type(exc),
            message=str(exc),
            line=line,
            function=frame.f_code.co_name if frame else "<module>",
            file=self._display_of(frame.f_code.co_filename) if frame else self.target.display,
            traceback=frames,
        )
        self._cur_frame, self._inner.current = frame, None
        self._raised = self._raised_exc = self._raised_info = self._catch_frame = None  # its Step tells it
        explained = self._pitfalls.seen(exc, frame, line)  # (caught, flagged, then re-raised: flagged once)
        for m in () if explained else self.monitors:
            try:
                if m.on_exception(self, exc, frame, line):
                    break
            except Exception as err:
                self._internal(_monitor_name(m), err)
        if self._record or self._interactive:
            here = (info.file, line)
            step = self._make_step(frame, "exception", line, here, exception=info, stack=frames or None)
            self._publish(step)
        return info



def _monitor_name(monitor: Monitor) -> str:
    """How an internal error names the check it happened in: its `code`, else its class name."""
    code = getattr(type(monitor), "code", None)
    return f"{type(monitor).__name__} ({code})" if isinstance(code, str) else type(monitor).__name__


def _safe_message(exc: BaseException) -> str:
    """str(exc) where that runs none of the user's code (a `__str__` of theirs stays uncalled)."""
    return str(exc) if readable(exc) else ""


def _from_signal(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt came from SIGINT (Ctrl+C), not from a `raise` in the code."""
    import dis

    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code.co_code
    op = code[tb.tb_lasti] if 0 <= tb.tb_lasti < len(code) else 0
    return dis.opname[op] not in ("RAISE_VARARGS", "RERAISE")
