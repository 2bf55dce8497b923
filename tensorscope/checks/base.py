"""What every check is: a Monitor with a stable flag `code` that raises Flags through the run context."""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, ClassVar

from tensorscope.engine.monitor import Monitor
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag, Severity

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext


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

    def flag(
        self,
        ctx: RunContext,
        severity: Severity,
        data: dict[str, str],
        tensors: tuple[str, ...] = (),
        line: int | None = None,
        where: tuple[str, str] | None = None,
    ) -> Flag:
        """Raise this check's flag; message and hint come from the catalogue, filled with `data`.

        `where` (file as flags show it, function) places it in another function than the running one."""
        if self._caught is not None:
            data = {**data, "caught": str(self._caught[0])}
            if self._caught[1]:
                data["caught_file"] = self._caught[1]
        text = render(self.code, "en", data)
        return ctx.emit(
            self.code, severity, text.message, text.fix, tensors=tensors, data=data, line=line,
            where=where,
        )
