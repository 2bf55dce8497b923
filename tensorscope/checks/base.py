"""What every check is: a Monitor with a stable flag `code` that raises Flags through the run context."""

from __future__ import annotations

import re
import types
from typing import TYPE_CHECKING, ClassVar, Unpack

from tensorscope.checks.support.culprits import FailedBackward, failed_backward
from tensorscope.engine.monitor import Monitor
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag, Severity

if TYPE_CHECKING:
    from tensorscope.engine.context import FlagPlace, RunContext


class Check(Monitor):
    """One pitfall. Subclasses set `code` and override the Monitor hooks they need."""

    code: ClassVar[str]
    _caught: tuple[int, str] | None = None
    """While `on_caught` runs: where the script caught the exception (line, file or "")."""

    def on_caught(self, ctx: RunContext, exc: BaseException, frame: types.FrameType, line: int,
                  caught: tuple[int, str]) -> bool:
        """Explains a caught exception as an uncaught one, the flag saying where it was caught."""
        self._caught = caught
        try:
            return self.on_exception(ctx, exc, frame, line)
        finally:
            self._caught = None

    def flag(self, ctx: RunContext, severity: Severity, data: dict[str, str],
             **place: Unpack[FlagPlace]) -> Flag:
        """Raise this check's flag; message and hint come from the catalogue, filled with `data`; `place`
        says where it stands when that is not the running function's current line."""
        if self._caught is not None:
            data = {**data, "caught": str(self._caught[0])}
            if self._caught[1]:
                data["caught_file"] = self._caught[1]
        text = render(self.code, "en", data)
        return ctx.emit(self.code, severity, text.message, text.fix, data, **place)


class BackwardErrorCheck(Check):
    """A check that explains one RuntimeError of backward(), known by its message (`text`: a string it
    holds or a pattern it matches); `explain` gets the statement and the tensor backward() was called on."""

    text: ClassVar[str | re.Pattern[str]]
    explains = (RuntimeError,)

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        failed = failed_backward(ctx, exc, frame, line, self.text)
        return failed is not None and self.explain(ctx, failed)

    def explain(self, ctx: RunContext, failed: FailedBackward) -> bool:
        """Raise the flag for this failure."""
        raise NotImplementedError
