"""Exceptions as events: raised in the user's code, caught by a handler of the script (explained at the
line that raised it, `caught.py`), or ending the run (a Step at the user's line).

Mixed into `tensorscope.engine.session.Session` (its state is set up in `Session.__init__`).
"""

from __future__ import annotations

import dataclasses
import sys
import types
from contextlib import nullcontext
from typing import Any

import tensorscope.engine.fastpath as fastpath
from tensorscope.engine.caught import readable
from tensorscope.engine.errors import exception_type
from tensorscope.engine.evaluating import Paused
from tensorscope.engine.inner import INNER
from tensorscope.engine.pausing import StopScript
from tensorscope.engine.stepping import guarded_lines
from tensorscope.engine.steps import kept
from tensorscope.model import ExceptionInfo, PauseReason, RaisedInfo, Step

QUIET_RAISES = (StopIteration, StopAsyncIteration, GeneratorExit)
"""Exceptions that are how iteration works, not errors: the debugger does not pause where they are raised."""


class Raising:
    """What a Session does when the script raises, catches, or ends with an exception."""

    def raised(self, frame: types.FrameType, exc: BaseException) -> None:
        """An exception is raised in a stepped frame, or propagates into one."""
        if isinstance(exc, StopScript) or frame.f_code.co_name in INNER:
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
            return
        if self._interactive and not isinstance(exc, QUIET_RAISES) and self._raised is not None \
                and self._may_be_caught(frame):
            # the debugger pauses where the script raised, its frame alive, when the script may catch it (an
            # exception nothing of the user's catches pauses the run at its end instead: post-mortem)
            self._reason = PauseReason("raised", self._raised.type, self._raised.message)
            self._pause(frame, "line", line, self._prev_of(frame, self._frame_line.get(frame)))

    def _may_be_caught(self, frame: types.FrameType) -> bool:
        """Whether a `try:` with handlers, in `frame` or a user frame below it, is around where it runs."""
        f: types.FrameType | None = frame
        while f is not None:
            if f in self._depth and self._line_of(f) in self._of_file(f.f_code, guarded_lines):
                return True
            f = f.f_back
        return False

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
                        if isinstance(exc, m.explains) and m.on_caught(self, exc, frame, line, at):
                            self._pitfalls.explained(exc, key)
                            break
                    except Exception as err:
                        self._failed(m, err)
        finally:
            self._cur_frame, self._inner.current = catcher, inner

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
                if isinstance(exc, m.explains) and m.on_exception(self, exc, frame, line):
                    break
            except Exception as err:
                self._failed(m, err)
        if self._record or self._interactive:
            here = (info.file, line)
            self._reason = PauseReason("post-mortem", info.type, info.message)  # (a replay pauses there too)
            step = self._make_step(frame, "exception", line, here, exception=info, stack=frames or None)
            self._publish(step)
            if self._interactive:
                self._post_mortem([t.tb_frame for t in user_tbs] or [self._namespace], step)
        return info

    def _post_mortem(self, frames: list[Any], step: Step) -> None:
        """After an uncaught exception: the frames it went through stay alive for evaluation (and `u`/`d`)
        until the next command, which ends the run."""
        self._paused = Paused(kept(frames), step)
        try:
            self._wait_command()
        except StopScript:
            pass
        finally:
            self._paused = None


def _safe_message(exc: BaseException) -> str:
    """str(exc) where that runs none of the user's code (a `__str__` of theirs stays uncalled)."""
    return str(exc) if readable(exc) else ""
