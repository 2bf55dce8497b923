"""Reading the debugger options of the command line: `--break LINE[:COND]`, `--stop-on SPEC`, `--watch EXPR`.

Torch-free (the `run` command's process never imports torch): the known flag codes come from the
explanation catalogue, which has one entry per check's code.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from tensorscope.engine import stopon


@dataclass(frozen=True)
class Break:
    """One `--break`: a line of the script, with an optional condition (pause only when it is true)."""

    line: int
    condition: str | None = None

    def __str__(self) -> str:
        return str(self.line) if self.condition is None else f"{self.line}:{self.condition}"


def compile_error(source: str, what: str = "condition") -> str | None:
    """Why `source` is not a Python expression (None when it is one)."""
    if not source.strip():
        return f"the {what} is empty"
    try:
        compile(source.strip(), f"<{what}>", "eval")
    except SyntaxError as exc:
        where = f" (column {exc.offset})" if exc.offset else ""
        return f"the {what} {source.strip()!r} is not a Python expression: {exc.msg}{where}"
    except ValueError as exc:  # e.g. a NUL character
        return f"the {what} {source.strip()!r} cannot be compiled: {exc}"
    return None


def parse_break(text: str) -> Break:
    """`30` or `30:epoch == 3` (the condition is everything after the first colon). ValueError: why not."""
    line_text, sep, condition = text.partition(":")
    try:
        line = int(line_text.strip())
    except ValueError:
        raise ValueError(f"{text!r}: expected LINE or LINE:CONDITION, e.g. 30 or 30:epoch==3") from None
    if line < 1:
        raise ValueError(f"{text!r}: line numbers start at 1")
    if not sep:
        return Break(line)
    error = compile_error(condition)
    if error is not None:
        raise ValueError(f"{text!r}: {error}")
    return Break(line, condition.strip())


def flag_codes() -> tuple[str, ...]:
    """Every flag code a check can raise (read without importing torch)."""
    from tensorscope.explain.catalogue import CATALOGUE

    return tuple(sorted(CATALOGUE))


def parse_stop_on(texts: Iterable[str]) -> tuple[str, ...]:
    """Each `--stop-on` spec, checked and written in its one spelling (`grad:w`, `nan`), each once."""
    return tuple(str(s) for s in stopon.parse_all(list(texts), flag_codes()))


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # a host name: other machines may reach it
        return False
