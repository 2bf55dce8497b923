"""Tracer backends: `sys.monitoring` on Python 3.12+, `sys.settrace` on 3.11, behind one small protocol.

A backend turns the interpreter's events for the user's code on the script's thread into calls on a
`TraceHandler` (the Session). Both report the same things: a frame entered or resumed, a line event
(with whether it comes from a jump back to the same line), a frame left (returned, yielded or unwound),
an exception raised or handled. What counts as a step is decided by the handler, alike for both.
"""

from __future__ import annotations

import dis
import sys
import threading
import types
from typing import Any, Protocol

from tensorscope.engine.stepping import comprehension_spans, inside


class TraceHandler(Protocol):
    """What a tracer backend calls; every method runs on the script's thread."""

    def traced(self, code: types.CodeType) -> bool:
        """Whether the user's lines in `code` are stepped (the script's and --trace files' code)."""
        ...

    def source_of(self, code: types.CodeType) -> str:
        """The source text of the file `code` comes from ("" when unknown)."""
        ...

    def enter(self, frame: types.FrameType) -> bool:
        """A traced frame starts or resumes (a generator). True: nothing needs this frame's events until
        the handler calls `wake()` (the backend may switch them off)."""
        ...

    def line(self, frame: types.FrameType, line: int, back_jump: bool) -> bool:
        """A line of a traced frame is about to run; `back_jump`: a loop jumped back to the same line.
        True: nothing needs this line's event until `wake()`."""
        ...

    def leave(self, frame: types.FrameType, unwinding: bool) -> bool:
        """A traced frame returns or yields (`unwinding`: an exception leaves it). True: as for `line`."""
        ...

    def raised(self, frame: types.FrameType, exc: BaseException) -> None:
        """An exception is raised in (or propagates into) a traced frame."""
        ...

    def handled(self, frame: types.FrameType, exc: BaseException) -> None:
        """An exception is caught by a handler in a traced frame."""
        ...


class Tracer(Protocol):
    """A backend: installed on the calling thread by `start`, removed by `stop` (idempotent)."""

    name: str

    def start(self) -> None:
        """Start tracing the calling thread."""
        ...

    def stop(self) -> None:
        """Stop tracing and give back what `start` took (tool ids, trace functions)."""
        ...

    def quiet(self, frame: types.FrameType) -> None:
        """An unobserved stretch starts in `frame`: lines the handler answers True for, and frames that start
        from now on, need no events until `wake` (the handler still answers for them: a backend may
        ignore this)."""
        ...

    def wake(self) -> None:
        """Every event the handler let the backend switch off fires again from now on."""
        ...


_LEAVING_OPS = frozenset(dis.opmap[name] for name in ("RETURN_VALUE", "YIELD_VALUE"))


def _left_by_exception(frame: types.FrameType) -> bool:
    """At a settrace `return` event: whether an exception unwinds `frame` (a bare `raise`, an exception
    leaving a `finally`, GeneratorExit at a yield) rather than a return or a yield. 3.11 reports an
    `exception` event only where an exception is first raised or propagates into a frame, not for these."""
    return frame.f_code.co_code[frame.f_lasti] not in _LEAVING_OPS


class SettraceTracer:
    """Python 3.11: a `sys.settrace` function on the script's thread, local tracing in user code only."""

    name = "settrace"

    def __init__(self, handler: TraceHandler) -> None:
        self.handler = handler
        self._last: dict[types.FrameType, int] = {}
        self._unwinding: dict[types.FrameType, BaseException] = {}
        self._quiet = False
        self._quiet_frame: types.FrameType | None = None
        self._quiet_lines: set[int] = set()
        """Lines of the quiet frame the handler needs no event for (until `wake`)."""

    def start(self) -> None:
        sys.settrace(self._call)

    def stop(self) -> None:
        sys.settrace(None)

    def quiet(self, frame: types.FrameType) -> None:
        """Call events go to `getattr` meanwhile: called as `getattr(frame, "call", None)`, it answers None
        (no tracing for the new frame) from C, without a Python call per function call. `frame`'s events
        go to a leaner function that drops the lines the handler answered True for."""
        if sys.gettrace() == self._call:  # (a bound method: a new object each time, so ==)
            sys.settrace(getattr)
            self._quiet = True
        if frame.f_trace == self._local:  # (it returns `_quiet_local` for this frame from now on)
            self._quiet_frame = frame
            self._quiet_lines = set()
            frame.f_trace = self._quiet_local

    def wake(self) -> None:
        """(settrace cannot switch single lines off: a frame started while quiet stays untraced.)"""
        frame, self._quiet_frame = self._quiet_frame, None
        if frame is not None and frame.f_trace == self._quiet_local:
            frame.f_trace = self._local
        if self._quiet:
            self._quiet = False
            if sys.gettrace() is getattr:
                sys.settrace(self._call)

    def _quiet_local(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "line" and frame.f_lineno in self._quiet_lines:
            return self._quiet_local
        return self._local(frame, event, arg)

    def _call(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if not self.handler.traced(frame.f_code):
            return None
        if self.handler.enter(frame):  # an unobserved pass, or nothing to see: no events for this frame
            frame.f_trace = None  # (a generator's frame keeps what its first call event returned)
            return None
        return self._local

    def _local(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        h = self.handler
        if event == "line":
            line = frame.f_lineno
            back = self._last.get(frame) == line  # settrace repeats a line only on a backward jump
            self._last[frame] = line
            caught = self._unwinding.pop(frame, None)
            if caught is not None:  # a line after an exception event: a handler in this frame runs
                h.handled(frame, caught)
            if h.line(frame, line, back) and frame is self._quiet_frame:
                self._quiet_lines.add(line)
        elif event == "return":
            self._last.pop(frame, None)
            self._unwinding.pop(frame, None)
            h.leave(frame, _left_by_exception(frame))
        elif event == "exception":
            self._unwinding[frame] = arg[1]
            h.raised(frame, arg[1])
        # (what a trace function returns becomes the frame's: keep the lean one once `quiet` set it)
        return self._quiet_local if frame is self._quiet_frame else self._local


_FREE_IDS = (4, 3, 2, 5)
"""Tool ids tensorscope may take, the unnamed ones first; never DEBUGGER_ID (0) or COVERAGE_ID (1), so
pdb, debugpy and coverage keep working under it."""


class _CodeInfo:
    """What the JUMP/BRANCH callbacks need to know about one code object, computed once."""

    __slots__ = ("back_edges", "comp_edges", "lines")

    def __init__(self, code: types.CodeType, source: str) -> None:
        positions = list(code.co_positions())
        self.lines = [p[0] for p in positions]
        """Line of the instruction at each code unit (offset // 2)."""
        self.back_edges: set[int] = set()
        self.comp_edges: set[int] = set()
        spans = comprehension_spans(source) if sys.version_info >= (3, 12) else []
        for ins in dis.get_instructions(code):
            target = ins.argval if ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs else None
            if isinstance(target, int) and target <= ins.offset:
                self.back_edges.add(ins.offset)
                pos = positions[ins.offset // 2]
                if spans and pos[0] is not None and inside(spans, pos[0], pos[2] or 0):
                    self.comp_edges.add(ins.offset)

    def line_at(self, offset: int) -> int | None:
        i = offset // 2
        return self.lines[i] if 0 <= i < len(self.lines) else None


_LOCAL_EVENTS = 0
if sys.version_info >= (3, 12):
    _E = sys.monitoring.events
    _LOCAL_EVENTS = _E.LINE | _E.JUMP | _E.BRANCH | _E.PY_RESUME | _E.PY_RETURN | _E.PY_YIELD
"""The events of the user's code objects (set on each as it first starts)."""


class MonitoringTracer:
    """Python 3.12+: `sys.monitoring` with a tool id of its own (debuggers and coverage keep theirs).

    PY_START is global and answers DISABLE for code that is not stepped, so library code costs one call
    per code object; LINE, JUMP, BRANCH, PY_RESUME, PY_RETURN and PY_YIELD are local to the user's code
    objects. PY_UNWIND, RAISE and EXCEPTION_HANDLED cannot be local: they are global and filtered by code.
    Events of other threads are ignored.
    """

    name = "monitoring"

    def __init__(self, handler: TraceHandler) -> None:
        self.handler = handler
        self.tool: int | None = None
        self._ident: int | None = None
        self._codes: dict[int, types.CodeType] = {}
        """The user's code objects with local events, by id (hashing a code object hashes its bytecode)."""
        self._info: dict[int, _CodeInfo] = {}
        self._dimmed: dict[int, types.CodeType] = {}
        """User code objects with events switched off on the handler's word, until `wake`."""

    def start(self) -> None:
        mon = sys.monitoring
        E = mon.events
        for tool in _FREE_IDS:
            if mon.get_tool(tool) is None:
                break
        else:
            raise RuntimeError("no free sys.monitoring tool id: other tools hold ids 2 to 5")
        mon.use_tool_id(tool, "tensorscope")
        mon.restart_events()  # what an earlier run disabled (DISABLE) may be the user's code now
        self.tool = tool
        self._ident = threading.get_ident()
        callbacks = {
            E.PY_START: self._py_start,
            E.PY_RESUME: self._py_resume,
            E.LINE: self._line,
            E.JUMP: self._jump,
            E.BRANCH: self._jump,
            E.PY_RETURN: self._py_return,
            E.PY_YIELD: self._py_return,
            E.PY_UNWIND: self._py_unwind,
            E.RAISE: self._raise,
            E.EXCEPTION_HANDLED: self._handled,
        }
        for event, fn in callbacks.items():
            mon.register_callback(tool, event, fn)
        mon.set_events(tool, E.PY_START | E.PY_UNWIND | E.RAISE | E.EXCEPTION_HANDLED)

    def stop(self) -> None:
        tool = self.tool
        if tool is None:
            return
        self.tool = None
        mon = sys.monitoring
        try:
            mon.set_events(tool, 0)
            for code in self._codes.values():
                mon.set_local_events(tool, code, 0)
            for event in (mon.events.PY_START, mon.events.PY_RESUME, mon.events.LINE, mon.events.JUMP,
                          mon.events.BRANCH, mon.events.PY_RETURN, mon.events.PY_YIELD,
                          mon.events.PY_UNWIND, mon.events.RAISE, mon.events.EXCEPTION_HANDLED):
                mon.register_callback(tool, event, None)
        finally:
            self._codes.clear()
            mon.free_tool_id(tool)

    def quiet(self, frame: types.FrameType) -> None:
        """(Nothing to do: each event switches itself off, answering DISABLE.)"""

    def wake(self) -> None:
        """Switch the events the handler let us switch off back on: only in the user's code objects
        (`restart_events` would make every library function run its first-call event again)."""
        tool = self.tool
        if tool is None:
            self._dimmed.clear()
            return
        for code in self._dimmed.values():
            sys.monitoring.set_local_events(tool, code, 0)
            sys.monitoring.set_local_events(tool, code, _LOCAL_EVENTS)
        self._dimmed.clear()

    # --- callbacks (the frame of the event is the caller's) ---------------------------------------

    def _py_start(self, code: types.CodeType, offset: int) -> Any:
        if id(code) not in self._codes:
            if not self.handler.traced(code):
                return sys.monitoring.DISABLE
            if threading.get_ident() != self._ident or self.tool is None:
                return None
            sys.monitoring.set_local_events(self.tool, code, _LOCAL_EVENTS)
            self._codes[id(code)] = code  # (kept alive here, so its id stays its own)
        elif threading.get_ident() != self._ident:
            return None
        self.handler.enter(sys._getframe(1))  # (PY_START is global: switched off, only restart_events
        return None                           # could switch it back on)

    def _py_resume(self, code: types.CodeType, offset: int) -> Any:
        if threading.get_ident() == self._ident and self.handler.enter(sys._getframe(1)):
            self._dimmed[id(code)] = code
            return sys.monitoring.DISABLE
        return None

    def _line(self, code: types.CodeType, line: int) -> Any:
        if threading.get_ident() == self._ident and self.handler.line(sys._getframe(1), line, False):
            self._dimmed[id(code)] = code
            return sys.monitoring.DISABLE
        return None

    def _jump(self, code: types.CodeType, src: int, dest: int) -> Any:
        info = self._info.get(id(code))
        if info is None:
            info = self._info[id(code)] = _CodeInfo(code, self.handler.source_of(code))
        if src not in info.back_edges:
            return sys.monitoring.DISABLE
        if dest > src:  # a backward conditional jump not taken
            return None
        line = info.line_at(src)
        if src in info.comp_edges or line is None or info.line_at(dest) != line:
            return sys.monitoring.DISABLE  # a comprehension's loop, or LINE reports the new line
        if threading.get_ident() == self._ident and self.handler.line(sys._getframe(1), line, True):
            self._dimmed[id(code)] = code
            return sys.monitoring.DISABLE
        return None

    def _py_return(self, code: types.CodeType, offset: int, value: object) -> Any:
        if threading.get_ident() == self._ident and self.handler.leave(sys._getframe(1), False):
            self._dimmed[id(code)] = code
            return sys.monitoring.DISABLE
        return None

    def _py_unwind(self, code: types.CodeType, offset: int, exc: BaseException) -> Any:
        if id(code) in self._codes and threading.get_ident() == self._ident:
            self.handler.leave(sys._getframe(1), True)
        return None

    def _raise(self, code: types.CodeType, offset: int, exc: BaseException) -> Any:
        if id(code) in self._codes and threading.get_ident() == self._ident:
            self.handler.raised(sys._getframe(1), exc)
        return None

    def _handled(self, code: types.CodeType, offset: int, exc: BaseException) -> Any:
        if id(code) in self._codes and threading.get_ident() == self._ident:
            self.handler.handled(sys._getframe(1), exc)
        return None


def make_tracer(handler: TraceHandler) -> Tracer:
    """The backend for this Python: sys.monitoring where it exists (3.12+), else sys.settrace."""
    if sys.version_info >= (3, 12):
        return MonitoringTracer(handler)
    return SettraceTracer(handler)
