"""Making Steps: the record of one pause (`model.Step`): the values in scope (`collect.py`), the loss
`backward()` was called on, output, flags, the exception raised, the user's stack.

Mixed into `tensorscope.engine.session.Session` (its state is set up in `Session.__init__`).
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, TypeVar

import torch

from tensorscope.engine.collect import Collected, collect, scope_of
from tensorscope.engine.target import display_path
from tensorscope.model import ExceptionInfo, FrameInfo, Step

STACK_SHOWN = 32
"""How many of the user's frames a Step keeps (the outermost, the innermost): deep recursion stays cheap."""

Frames = TypeVar("Frames", list[Any], tuple[Any, ...])


def kept(frames: Frames) -> Frames:
    """A stack (outermost first) as a Step keeps it: in deep recursion, the outermost frame and the
    innermost ones, STACK_SHOWN in all."""
    return frames if len(frames) <= STACK_SHOWN else frames[:1] + frames[-(STACK_SHOWN - 1):]


class StepMaking:
    """How a Session turns a frame (or the module's namespace at the end) into a Step."""

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

    def _user_frames(self, frame: types.FrameType | None) -> list[types.FrameType]:
        """The user's frames from the outermost to `frame`, as `Step.stack` lists them."""
        frames: list[types.FrameType] = []
        f = frame
        while f is not None:
            if f in self._depth or f is frame:
                frames.append(f)
            f = f.f_back
        frames.reverse()
        return frames

    def _stack(self, frame: types.FrameType | None,
               frames: list[types.FrameType] | None = None) -> tuple[FrameInfo, ...]:
        """`frame`'s stack as FrameInfos (`frames`: its `_user_frames`, when already walked)."""
        if frames is None:
            frames = self._user_frames(frame)
        stack = tuple(self._frame_info(f, self._line_of(f)) for f in frames)
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

    def _collect(self, scope: dict[str, Any]) -> Collected:
        """The tensors and optimizers of `scope`, as a Step shows them (devices as the script sees them)."""
        device_name = self._sim.device_name if self._sim is not None else None
        return collect(scope, self._stats, device_name, self._internal)

    def _make_step(
        self,
        frame: types.FrameType | None,
        event: str,
        line: int,
        prev: tuple[str, int] | None,
        namespace: dict[str, Any] | None = None,
        exception: ExceptionInfo | None = None,
        stack: tuple[FrameInfo, ...] | None = None,
        watched: bool = True,
    ) -> Step:
        """The Step of a pause (or a recorded line); `watched`: with the watches evaluated (not for the lines
        finish/continue run through)."""
        scope = namespace if namespace is not None else scope_of(frame) if frame else {}
        seen = self._collect(scope)
        loss, loss_name = self._loss_watch.take(scope) if self._loss_watch is not None else (None, None)
        out, err = self._capture.take()
        flags = tuple(self._pending_flags)
        self._pending_flags.clear()
        raised, self._raised = self._raised, None
        file = self._display_of(frame.f_code.co_filename) if frame else self.target.display
        if stack is None:
            stack = self._stack(frame)
        depth = max(0, len(stack) - 1)
        stack = kept(stack)
        reason, self._reason = self._reason, None
        watches = ()
        if watched and self._watches:
            where = frame if frame is not None else namespace if namespace is not None else {}
            watches = self._watch_values(where, self._step_count, max(0, len(stack) - 1))
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
            watches=watches,
            reason=reason,
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
