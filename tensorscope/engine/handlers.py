"""Calling the checks' handlers from the instrumentation: outside tracing, an error inside one recorded with
its owner's name (a bug of ours, never swallowed)."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext


def record_error(ctx: RunContext, who: str, exc: BaseException) -> None:
    """An exception inside a handler is a bug of ours: recorded with its owner's name, never swallowed."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    ctx.internal_errors.append(f"{who}: {type(exc).__name__}: {exc}\n{text}")


def owner_of(handler: Callable[..., Any]) -> str:
    """Whose a handler is: its check's `code`, else the handler's name."""
    self = getattr(handler, "__self__", None)
    code = getattr(self, "code", None)
    return str(code) if isinstance(code, str) else getattr(handler, "__qualname__", repr(handler))


def untraced(fn: Callable[..., Any], *args: Any) -> Any:
    """Run our bookkeeping with this thread's trace function off (3.11: no call events for our calls)."""
    tracer = sys.gettrace()
    if tracer is None:
        return fn(*args)
    sys.settrace(None)
    try:
        return fn(*args)
    finally:
        sys.settrace(tracer)


def call_each(ctx: RunContext, handlers: Iterable[Callable[..., Any]], *args: Any) -> None:
    """`handler(ctx, *args)` for each handler, untraced; an error inside one is recorded, the others run."""
    for handler in handlers:
        try:
            untraced(handler, ctx, *args)
        except Exception as exc:
            record_error(ctx, owner_of(handler), exc)
