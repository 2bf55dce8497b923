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

    def enter(self, frame: types.FrameType) -> None:
        """A traced frame starts or resumes (a generator)."""
        ...

    def line(self, frame: types.FrameType, line: int, back_jump: bool) -> None:
        """A line of a traced frame is about to run; `back_jump`: a loop jumped back to the same line."""
        ...

    def leave(self, frame: types.FrameType, unwinding: bool) -> None:
        """A traced frame returns or yields (`unwinding`: an exception leaves it)."""
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

    def start(self) -> None:
        sys.settrace(self._call)

    def stop(self) -> None:
        sys.settrace(None)

    def _call(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if not self.handler.traced(frame.f_code):
            return None
        self.handler.enter(frame)
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
            h.line(frame, line, back)
        elif event == "return":
            self._last.pop(frame, None)
            self._unwinding.pop(frame, None)
            h.leave(frame, _left_by_exception(frame))
        elif event == "exception":
            self._unwinding[frame] = arg[1]
            h.raised(frame, arg[1])
        return self._local


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
        self._codes: set[types.CodeType] = set()
        self._info: dict[types.CodeType, _CodeInfo] = {}

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
            for code in self._codes:
                mon.set_local_events(tool, code, 0)
            for event in (mon.events.PY_START, mon.events.PY_RESUME, mon.events.LINE, mon.events.JUMP,
                          mon.events.BRANCH, mon.events.PY_RETURN, mon.events.PY_YIELD,
                          mon.events.PY_UNWIND, mon.events.RAISE, mon.events.EXCEPTION_HANDLED):
                mon.register_callback(tool, event, None)
        finally:
            self._codes.clear()
            mon.free_tool_id(tool)

    # --- callbacks (the frame of the event is the caller's) ---------------------------------------

    def _py_start(self, code: types.CodeType, offset: int) -> Any:
        if code not in self._codes:
            if not self.handler.traced(code):
                return sys.monitoring.DISABLE
            if threading.get_ident() != self._ident or self.tool is None:
                return None
            E = sys.monitoring.events
            sys.monitoring.set_local_events(
                self.tool, code, E.LINE | E.JUMP | E.BRANCH | E.PY_RESUME | E.PY_RETURN | E.PY_YIELD)
            self._codes.add(code)
        elif threading.get_ident() != self._ident:
            return None
        self.handler.enter(sys._getframe(1))
        return None

    def _py_resume(self, code: types.CodeType, offset: int) -> Any:
        if threading.get_ident() == self._ident:
            self.handler.enter(sys._getframe(1))
        return None

    def _line(self, code: types.CodeType, line: int) -> Any:
        if threading.get_ident() == self._ident:
            self.handler.line(sys._getframe(1), line, False)
        return None

    def _jump(self, code: types.CodeType, src: int, dest: int) -> Any:
        info = self._info.get(code)
        if info is None:
            info = self._info[code] = _CodeInfo(code, self.handler.source_of(code))
        if src not in info.back_edges:
            return sys.monitoring.DISABLE
        if dest > src:  # a backward conditional jump not taken
            return None
        line = info.line_at(src)
        if src in info.comp_edges or line is None or info.line_at(dest) != line:
            return sys.monitoring.DISABLE  # a comprehension's loop, or LINE reports the new line
        if threading.get_ident() == self._ident:
            self.handler.line(sys._getframe(1), line, True)
        return None

    def _py_return(self, code: types.CodeType, offset: int, value: object) -> Any:
        if threading.get_ident() == self._ident:
            self.handler.leave(sys._getframe(1), False)
        return None

    def _py_unwind(self, code: types.CodeType, offset: int, exc: BaseException) -> Any:
        if code in self._codes and threading.get_ident() == self._ident:
            self.handler.leave(sys._getframe(1), True)
        return None

    def _raise(self, code: types.CodeType, offset: int, exc: BaseException) -> Any:
        if code in self._codes and threading.get_ident() == self._ident:
            self.handler.raised(sys._getframe(1), exc)
        return None

    def _handled(self, code: types.CodeType, offset: int, exc: BaseException) -> Any:
        if code in self._codes and threading.get_ident() == self._ident:
            self.handler.handled(sys._getframe(1), exc)
        return None


def make_tracer(handler: TraceHandler) -> Tracer:
    """The backend for this Python: sys.monitoring where it exists (3.12+), else sys.settrace."""
    if sys.version_info >= (3, 12):
        return MonitoringTracer(handler)
    return SettraceTracer(handler)
