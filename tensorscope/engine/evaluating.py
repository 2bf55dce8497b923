"""Evaluating in the paused frame: the prompt's expressions and statements, watches, breakpoint conditions,
completion, and the Step of a frame up the stack.

Mixed into `tensorscope.engine.session.Session` (its state is set up in `Session.__init__`). What the user
asks for runs on the script's own thread while it is paused (the pause loop runs each request: torch's
thread-local state, the grad mode included, is the script's), with the checks' instrumentation quiet, what it
prints kept apart from the script's output, and under a time limit: a runaway evaluation is interrupted
(`EvalTimeout`, raised in the script's thread; a blocking call gets SIGINT when the script has not taken
SIGINT over) and reported. An error is reported, never raised into the script.
"""

from __future__ import annotations

import builtins
import ctypes
import dataclasses
import signal
import sys
import threading
import types
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from tensorscope.engine.collect import scope_of
from tensorscope.engine.errors import exception_type
from tensorscope.model import Evaluation, Step

EVAL_SECONDS = 5.0
"""How long an evaluation at the prompt (or a breakpoint's condition) may run before it is stopped."""
WATCH_SECONDS = 1.0
"""How long each watch may run at a pause."""
REPR_CHARS = 2000
"""How much of a value's repr is kept (the rest is cut, and the text says so)."""
FILENAME = "<tensorscope>"
"""The file name evaluated code is compiled with (it shows in its tracebacks)."""


class EvalTimeout(BaseException):
    """Raised in the script's thread when an evaluation runs past its time limit."""


@dataclass
class Paused:
    """Where the script is paused: its user frames (outermost first, as `Step.stack`) and the Step shown."""

    frames: Sequence[types.FrameType | dict[str, Any]]
    """A frame, or a namespace (the module's, at the end of the run)."""
    step: Step


class _Limit:
    """Interrupts the script's thread after `seconds` unless disarmed first: EvalTimeout (raised in that
    thread), then SIGINT for a blocking call when the thread is the main one and SIGINT is python's.

    A pending exception is never taken back (on 3.11 clearing one leaves the interpreter's signal set and a
    function's first instruction loops on it): `disarm` lets one that is on its way arrive, and drops it.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ident = threading.get_ident()
        self.fired = False
        self.interrupted = False
        """SIGINT was sent."""
        self.arrived = False
        """What was sent has arrived (and was caught)."""
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tensorscope-eval-limit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def disarm(self) -> None:
        """No interruption after this returns (call it again when it was interrupted by one)."""
        with self._lock:
            self._done.set()
            pending = (self.fired or self.interrupted) and not self.arrived
        if pending:
            try:
                while True:  # what was sent arrives at this loop's next check
                    pass
            except (EvalTimeout, KeyboardInterrupt):
                self.arrived = True
        self._thread.join()

    def _run(self) -> None:
        if self._done.wait(self.seconds):
            return
        with self._lock:
            if self._done.is_set():
                return
            self.fired = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.ident),
                                                       ctypes.py_object(EvalTimeout))
        if self._done.wait(0.5):
            return
        with self._lock:  # still running: a blocking call (sleep, a read) ignores the pending exception
            if not self._done.is_set() and self.ident == threading.main_thread().ident \
                    and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self.interrupted = True
                signal.pthread_kill(self.ident, signal.SIGINT)


def compile_source(source: str) -> tuple[types.CodeType, bool]:
    """`source` compiled as an expression (True) or else as statements (False); raises SyntaxError. As at
    pdb's prompt, `p EXPR` and `pp EXPR` print an expression and `!STATEMENT` runs a statement (none of
    them is Python, so nothing else is read differently)."""
    text = source.strip()
    if text.startswith("!"):
        return compile(text[1:], FILENAME, "exec"), False
    try:
        return compile(text, FILENAME, "eval"), True
    except SyntaxError:
        pass
    head, _, rest = text.partition(" ")
    if head in ("p", "pp") and rest.strip():
        try:
            return compile(rest.strip(), FILENAME, "eval"), True
        except SyntaxError:
            pass
    return compile(text, FILENAME, "exec"), False


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        where = f" (column {exc.offset})" if exc.offset else ""
        return f"SyntaxError: {exc.msg}{where}"
    try:
        message = str(exc)
    except Exception:  # (a broken __str__ of the user's exception)
        message = ""
    return f"{exception_type(exc)}: {message}" if message else exception_type(exc)


def _write_back(frame: types.FrameType) -> None:
    """After a statement ran in a function's frame, its assignments reach the frame's variables (3.13's
    `f_locals` writes through by itself)."""
    if sys.version_info < (3, 13) and frame.f_globals is not frame.f_locals:
        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))


class Evaluating:
    """The Session's evaluation: requests run by the pause loop, on the script's thread."""

    # --- requests (thread-safe: the engine's command reader calls these) --------------------------------

    def evaluate(self, source: str, frame: int | None, reply: Callable[[Evaluation], None]) -> None:
        """Evaluate `source` in frame `frame` of the paused stack (None: the innermost); `reply` gets the
        Evaluation, which the run's Trace keeps."""
        self._request(lambda: reply(self._evaluate_request(source, frame)))

    def complete(self, prefix: str, frame: int | None, reply: Callable[[tuple[str, ...]], None]) -> None:
        """`reply` gets the names in scope of that frame (with the builtins) that start with `prefix`; after a
        dot, the attributes of what comes before it (when evaluation is allowed: `dir` runs its code)."""
        self._request(lambda: reply(self._completions(prefix, frame)))

    def set_watches(self, exprs: tuple[str, ...] | list[str],
                    reply: Callable[[tuple[Evaluation, ...]], None] | None = None) -> None:
        """Watch `exprs` from now on; when paused, `reply` gets them evaluated at once."""
        self._watches = tuple(exprs)
        if reply is not None:
            def run() -> None:
                paused = self._paused
                if paused is not None:
                    reply(self._watch_values(paused.frames[-1], paused.step.index, len(paused.frames) - 1))
            self._request(run)

    def select_frame(self, index: int, reply: Callable[[Step | None], None]) -> None:
        """`reply` gets the paused Step with the values (and watches) of frame `index` of its stack."""
        self._request(lambda: reply(self._frame_step(index)))

    def _request(self, run: Callable[[], None]) -> None:
        """Run `run` on the script's thread at its current (or next) pause."""
        self._commands.put(run)  # type: ignore[arg-type]

    def _serve(self, item: Callable[[], None]) -> None:
        try:
            item()
        except Exception as exc:
            self._internal("engine (evaluate)", exc)

    # --- on the script's thread, paused ---------------------------------------------------------------

    def _paused_frame(self, index: int | None) -> tuple[Paused, int] | None:
        """The pause and the index of its frame `index` (None: the innermost); None when not paused or no
        such frame."""
        paused = self._paused
        if paused is None:
            return None
        k = len(paused.frames) - 1 if index is None else index
        return (paused, k) if 0 <= k < len(paused.frames) else None

    def _evaluate_request(self, source: str, index: int | None) -> Evaluation:
        found = self._paused_frame(index)
        if found is None:
            paused = self._paused
            if paused is None:
                return Evaluation(source, "error", text="the script is not paused", step=self._step_count)
            return Evaluation(source, "error", text=f"no frame {index} in this stack", step=paused.step.index)
        paused, k = found
        ev = self._evaluate_in(paused.frames[k], source, EVAL_SECONDS, step=paused.step.index, frame_index=k)
        self.evaluations.append(ev)
        return ev

    def _evaluate_in(self, where: types.FrameType | dict[str, Any], source: str, seconds: float, *,
                     step: int, frame_index: int) -> Evaluation:
        """Evaluate `source` in a frame (or a namespace); never raises."""
        kind, text, value, output = self._run(where, source, seconds, self._shown)
        tensor = None
        if kind == "tensor":
            seen = self._collect({source.strip(): value})
            tensor = seen.tensors[0] if seen.tensors else None
            if tensor is None:
                kind, text = "value", "tensor"
        return Evaluation(source, kind, text=text, tensor=tensor, output=output,  # type: ignore[arg-type]
                          step=step, frame=frame_index)

    def _run(self, where: types.FrameType | dict[str, Any], source: str, seconds: float,
             convert: Callable[[Any], tuple[str, Any]]) -> tuple[str, str, Any, str]:
        """Run `source` in `where` under the time limit: (kind, text, value, what it printed). An
        expression's value goes through `convert` (kind, text) still under the limit (a repr can hang)."""
        if not self._allow_eval:
            return "refused", "evaluation is off in this session", None, ""
        if not source.strip():
            return "error", "nothing to evaluate", None, ""
        try:
            code, is_expr = compile_source(source)
        except (SyntaxError, ValueError) as exc:
            return "error", _error_text(exc), None, ""
        if isinstance(where, dict):
            g, loc = where, where
        else:
            g, loc = where.f_globals, where.f_locals
        layer = self._layer
        self._evaluating = True
        diverted = self._capture.divert()
        kind, text, value = "statement", "", None
        try:
            with diverted, layer.outside() if layer is not None else nullcontext():
                limit = _Limit(seconds)
                stopped: BaseException | None = None
                try:
                    try:
                        limit.start()
                        if is_expr:
                            value = eval(code, g, loc)
                            kind, text = convert(value)
                        else:
                            exec(code, g, loc)
                            if not isinstance(where, dict):
                                _write_back(where)
                    except (EvalTimeout, KeyboardInterrupt) as exc:
                        stopped = exc
                        limit.arrived = limit.fired or limit.interrupted
                    finally:
                        limit.disarm()
                except (EvalTimeout, KeyboardInterrupt) as exc:  # (it arrived just as the code ended)
                    stopped = exc
                    limit.arrived = True
                    limit.disarm()
                except BaseException as exc:  # SystemExit too: an evaluation never ends the run
                    kind, text = "error", _error_text(exc)
                if stopped is not None:
                    if limit.fired or limit.interrupted:
                        kind, text = "timeout", f"stopped after {seconds:g} s"
                    else:
                        kind, text = "error", _error_text(stopped)
        finally:
            self._evaluating = False
        return kind, text, value, diverted.text

    def _shown(self, value: Any) -> tuple[str, str]:
        """(kind, text) of an evaluated value: a tensor (shown from its TensorView) or its repr, cut."""
        if isinstance(value, torch.Tensor):
            return "tensor", ""
        text = repr(value)
        if len(text) > REPR_CHARS:
            text = text[:REPR_CHARS] + f"… ({len(text) - REPR_CHARS} more characters)"
        return "value", text

    def _condition(self, frame: types.FrameType, condition: str) -> tuple[bool, str | None]:
        """Whether a breakpoint's condition holds in `frame`: (holds, None), or (True, why it could not be
        evaluated: the breakpoint then pauses, as pdb's does)."""
        kind, text, _, _ = self._run(frame, condition, EVAL_SECONDS, lambda v: ("value", "1" if v else ""))
        if kind == "value":
            return bool(text), None
        if kind == "statement":
            return True, "a condition must be an expression"
        return True, text or kind

    def _watch_values(self, where: types.FrameType | dict[str, Any], step: int,
                      frame_index: int) -> tuple[Evaluation, ...]:
        """The watches evaluated in `where` (each under WATCH_SECONDS)."""
        return tuple(self._evaluate_in(where, expr, WATCH_SECONDS, step=step, frame_index=frame_index)
                     for expr in self._watches)

    def _completions(self, prefix: str, index: int | None) -> tuple[str, ...]:
        found = self._paused_frame(index)
        if found is None:
            return ()
        paused, k = found
        where = paused.frames[k]
        scope = where if isinstance(where, dict) else scope_of(where)
        head, dot, last = prefix.rpartition(".")
        if not dot:
            names = set(scope) | set(vars(builtins))
            return tuple(sorted(n for n in names if n.startswith(prefix) and not n.startswith("__")))
        if not self._allow_eval:
            return ()
        ev_scope = dict(scope)
        kind, attrs, _, _ = self._run(ev_scope, head, WATCH_SECONDS, lambda obj: ("value", dir(obj)))
        if kind != "value":
            return ()
        hidden = not last.startswith("_")
        return tuple(f"{head}.{a}" for a in sorted(attrs)
                     if a.startswith(last) and not (hidden and a.startswith("_")))

    def _frame_step(self, index: int) -> Step | None:
        found = self._paused_frame(index)
        if found is None:
            return None
        paused, _ = found
        where = paused.frames[index]
        seen = self._collect(where if isinstance(where, dict) else scope_of(where))
        innermost = index == len(paused.frames) - 1
        return dataclasses.replace(
            paused.step, tensors=seen.tensors, optimizers=seen.optimizers, more=seen.more,
            selected=None if innermost else index,
            watches=self._watch_values(where, paused.step.index, index) if self._watches else ())
