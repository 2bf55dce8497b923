"""The TraceHandler the tracer backend calls (`tracer.py`): which code is traced, where a frame starts,
which line events are steps, and the unobserved passes of `run()`'s sampling (`sampling.py`).

Mixed into `tensorscope.engine.session.Session` (its state is set up in `Session.__init__`).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import tensorscope.engine.fastpath as fastpath
from tensorscope.engine.disguise import is_disguise
from tensorscope.engine.inner import COMPREHENSIONS, INNER
from tensorscope.engine.pausing import StopScript
from tensorscope.engine.sampling import COUNT, DARK, GO_DARK, OBSERVE, WAKE, loops_in
from tensorscope.engine.stepping import finally_starts, is_new_step, statement_starts


class TraceEvents:
    """The tracer's events, turned into the Session's lines, returns and unobserved stretches."""

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
                        raise StopScript
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
        except StopScript:
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
        except StopScript:
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
                    self._failed(m, exc)
        except Exception as exc:
            self._internal("engine (line)", exc)
        return False
