"""Run a script line by line, pausing as a debugger does, and record Steps.

The script runs on the thread that calls `run_here`, `record` or `run` (the engine's main thread), or on
a worker thread with `start`. Works without a UI: the TUI's engine, `trace` and `check` all drive this
same Session.

One class, one idea per module: `pausing` (commands, breakpoints, the pause loop), `running` (running the
script to its end, the Trace), `events` (the tracer's events), `raising` (exceptions as events) and `steps`
(making a Step) hold its parts; this module holds its state, the headless entry points and the RunContext
the monitors see.
"""

from __future__ import annotations

import queue
import threading
import traceback
import types
from collections.abc import Callable, Iterable
from typing import Any, TextIO, Unpack

from tensorscope.engine.capture import OutputCapture
from tensorscope.engine.caught import CaughtPitfalls
from tensorscope.engine.collect import StatsCache
from tensorscope.engine.commands import COMMANDS, Command
from tensorscope.engine.context import FlagPlace
from tensorscope.engine.databreaks import DataBreaks
from tensorscope.engine.errors import INTERNAL_ERRORS
from tensorscope.engine.evaluating import Evaluating, Paused
from tensorscope.engine.events import TraceEvents
from tensorscope.engine.inner import InnerFrames, function_of
from tensorscope.engine.instrument import Instrument, with_instrument
from tensorscope.engine.losswatch import LossWatch
from tensorscope.engine.monitor import Monitor
from tensorscope.engine.pausing import Pausing
from tensorscope.engine.raising import Raising
from tensorscope.engine.running import Running
from tensorscope.engine.sampling import PassSampler
from tensorscope.engine.simcuda import SimulatedCuda
from tensorscope.engine.steps import StepMaking
from tensorscope.engine.target import ScriptTarget
from tensorscope.engine.tracer import Tracer
from tensorscope.model import Evaluation, Flag, FrameInfo, PauseReason, RaisedInfo, Severity, Step, Trace

__all__ = ["COMMANDS", "INTERNAL_ERRORS", "Command", "Session"]


class Session(Pausing, Running, TraceEvents, Raising, StepMaking, Evaluating):
    """One run of one script. Interactive (`start` + `command`) or headless (`record`, `run`)."""

    def __init__(
        self,
        script: str | ScriptTarget,
        argv: Iterable[str] = (),
        *,
        trace_modules: Iterable[str] = (),
        breakpoints: Iterable[tuple[str, int] | int] = (),
        conditions: Iterable[tuple[str, int, str]] = (),
        watches: Iterable[str] = (),
        stop_on: Iterable[str] = (),
        allow_eval: bool = True,
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
        self._conditions: dict[tuple[str, int], str] = {}
        """(absolute file, line) -> the condition of that breakpoint."""
        for bp in breakpoints:
            if isinstance(bp, int):
                self.add_breakpoint(bp)
            else:
                self.add_breakpoint(bp[1], bp[0])
        for file, line, condition in conditions:
            self.add_breakpoint(line, file, condition)
        self._until: tuple[str, int] | None = None
        """run_to's line (absolute file, line), until the next pause."""
        self._until_next: tuple[str, int] | None = None
        """A run_to asked for, in force from the next line the script runs."""
        self._allow_eval = allow_eval
        self._watches: tuple[str, ...] = tuple(watches)
        self._evaluating = False
        """True while the user's evaluation runs (the instrumentation's hooks stay quiet meanwhile)."""
        self._paused: Paused | None = None
        """Where the script is paused now (interactive), for evaluation; None while it runs."""
        self.evaluations: list[Evaluation] = []
        """What the user evaluated at the prompt, in order (the Trace keeps them)."""
        self._reason: PauseReason | None = None
        """Why the next Step pauses, when a breakpoint, a data breakpoint or an exception makes it."""
        self._databreaks: DataBreaks | None = None
        self.set_stop_on(tuple(stop_on))
        self._hook: Any = None
        """The script's sys.breakpointhook while ours stands in for it on a line that calls breakpoint()."""
        self._break_called = False
        self._our_hook: Any = None
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
        """`run()` only: which passes of the user's loops are observed (None: every line is)."""
        self._analyses: dict[tuple[str, Callable[[str], Any]], Any] = {}
        """Per (file, analysis): its loops, its `finally:` bodies (`_of_file`)."""
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
        return self._evaluating or sampler is not None and sampler.frame is not None

    @property
    def unobserved_passes(self) -> int:
        """How many loop passes ran unobserved (`run()`'s sampling)."""
        return 0 if self._sampler is None else self._sampler.unobserved_passes

    # --- RunContext for monitors ------------------------------------------------------------------

    def emit(self, code: str, severity: Severity, message: str, hint: str, data: dict[str, str] | None = None,
             **place: Unpack[FlagPlace]) -> Flag:
        """A flag at the running function's current line, or where `place` says (see `FlagPlace`)."""
        file, cur_line, function = self.location()
        file = "" if file == self.target.display else file
        line, where = place.get("line"), place.get("where")
        if where is not None:
            file, function = where
        flag = Flag(
            code=code,
            severity=severity,
            line=line if line is not None else cur_line,
            function=function,
            message=message,
            hint=hint,
            tensors=tuple(place.get("tensors", ())),
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

    # --- errors inside tensorscope ------------------------------------------------------------------

    def _tell(self, monitors: list[Monitor], hook: str, *args: Any) -> None:
        """Call `hook(self, *args)` on each monitor; an error inside one is recorded, the others still run."""
        for m in monitors:
            try:
                getattr(m, hook)(self, *args)
            except Exception as exc:
                self._failed(m, exc)

    def _internal(self, who: str, exc: BaseException) -> None:
        """Record an error inside tensorscope (a check's or the engine's), with its traceback."""
        text = f"{who}: " + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
        self.internal_errors.append(text)
        INTERNAL_ERRORS.append(text)

    def _failed(self, monitor: Monitor, exc: BaseException) -> None:
        """Record an error inside one of the monitors (a check's bug), named after it."""
        self._internal(_monitor_name(monitor), exc)


def _monitor_name(monitor: Monitor) -> str:
    """How an internal error names the check it happened in: its `code`, else its class name."""
    code = getattr(type(monitor), "code", None)
    return f"{type(monitor).__name__} ({code})" if isinstance(code, str) else type(monitor).__name__
