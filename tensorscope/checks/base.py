"""What every check is: a Monitor with a stable flag `code` that raises Flags through the run context."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tensorscope.engine.monitor import Monitor
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag, Severity

if TYPE_CHECKING:
    from tensorscope.engine.session import Session


class Check(Monitor):
    """One pitfall. Subclasses set `code` and override the Monitor hooks they need."""

    code: ClassVar[str]

    def flag(
        self,
        ctx: Session,
        severity: Severity,
        data: dict[str, str],
        tensors: tuple[str, ...] = (),
        line: int | None = None,
    ) -> Flag:
        """Raise this check's flag; message and hint come from the catalogue, filled with `data`."""
        text = render(self.code, "en", data)
        return ctx.emit(
            self.code, severity, text.message, text.fix, tensors=tensors, data=data, line=line
        )
