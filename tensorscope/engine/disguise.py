"""Warnings at the user's line: an op seen by the instrumentation's mode is called from a tiny function whose
code carries the calling line's file and number, so a warning PyTorch raises inside it is attributed to the
user's line, as plain python does."""

from __future__ import annotations

import sys
import types
from typing import Any, Generic, TypeVar

import torch
from torch.overrides import TorchFunctionMode

_HANDLE_CODE = torch.overrides.handle_torch_function.__code__
_TEMPLATE = compile("def _op(f, a, k): return f(*a, **k)\n", "<tensorscope>", "exec").co_consts[0]
_disguises: dict[tuple[str, int, int], types.FunctionType] = {}
_disguise_codes: dict[int, types.CodeType] = {}
"""By id: hashing a code object hashes its bytecode (slow for a long script's module)."""


def is_disguise(code: types.CodeType) -> bool:
    """Whether `code` is one of ours that only carries a user's line for warnings (never step into it)."""
    return id(code) in _disguise_codes


def caller_of_op() -> types.FrameType:
    """The frame that made the op now in `__torch_function__` (call this first thing there): the one
    plain python would blame for a warning."""
    f = sys._getframe(2)
    if f.f_code is _HANDLE_CODE and f.f_back is not None and f.f_back.f_back is not None:
        f = f.f_back.f_back  # a Python-level torch function (F.mse_loss, Tensor.backward): its caller
    return f


def call_as(frame: types.FrameType, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`func(*args, **kwargs)` from a frame with `frame`'s file, line and globals: warnings land there."""
    key = (frame.f_code.co_filename, frame.f_lineno or 1, id(frame.f_globals))
    fn = _disguises.get(key)
    if fn is None:
        code = _TEMPLATE.replace(co_filename=key[0], co_firstlineno=key[1], co_name="<lambda>",
                                 co_qualname="<lambda>")
        fn = types.FunctionType(code, frame.f_globals, "<lambda>")
        if len(_disguises) > 4096:
            _disguises.clear()
            _disguise_codes.clear()
        _disguises[key] = fn
        _disguise_codes[id(code)] = code
    try:
        return fn(func, args, kwargs)
    except BaseException as exc:  # re-raised as is, minus the disguise's entry in its traceback
        _drop_disguise(exc.__traceback__)
        raise


def _drop_disguise(tb: types.TracebackType | None) -> None:
    """Unlink the disguise's frame from a traceback: tracebacks show the user's line, then PyTorch's."""
    prev = None
    while tb is not None:
        if id(tb.tb_frame.f_code) in _disguise_codes:
            if prev is not None:
                prev.tb_next = tb.tb_next
            return
        prev, tb = tb, tb.tb_next


Owner = TypeVar("Owner")


class OpMode(TorchFunctionMode, Generic[Owner]):
    """A TorchFunctionMode of `owner`'s that hands each op to `on_op` with the frame that made it (the frame
    to `call_as` the op from, so that a warning inside it is the user's line's, as under plain python)."""

    def __init__(self, owner: Owner) -> None:
        super().__init__()
        self.owner = owner

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        return self.on_op(caller_of_op(), func, args, kwargs or {})

    def on_op(self, caller: types.FrameType, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run (or answer) `func(*args, **kwargs)`, made at `caller`."""
        raise NotImplementedError
