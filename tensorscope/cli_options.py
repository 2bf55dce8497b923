"""The debugger options of the command line: `--break LINE[:COND]`, `--stop-on SPEC`, `--watch EXPR`, the
hidden `--no-eval`; how they are read and checked, and the click options every command declares them with.

Torch-free (the `run` command's process never imports torch): the known flag codes come from the
explanation catalogue, which has one entry per check's code.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import click

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


# --- the click options ---------------------------------------------------------------------------------

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
STOP_ON_HELP = ("Data breakpoint (repeatable): grad:NAME (its .grad is written or zeroed), change:NAME (its "
                "value, shape, dtype, device or requires_grad changes), nan (a tensor becomes NaN/Inf), "
                "flag:CODE (a flag is raised).")


def _breaks(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[Break, ...]:
    """--break values as Breaks (a condition that does not compile: a usage error)."""
    try:
        return tuple(parse_break(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _stop_ons(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return parse_stop_on(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _watches(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """--watch expressions, each checked to be an expression."""
    for value in values:
        error = compile_error(value, "watch")
        if error is not None:
            raise click.BadParameter(error)
    return tuple(v.strip() for v in values)


def break_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--break LINE[:COND]` (repeatable), read into `breaks`."""
    return click.option("--break", "breaks", multiple=True, metavar="LINE[:COND]", callback=_breaks,
                        help="Breakpoint at this line of the script; with :COND (30:epoch==3) it pauses "
                             "only when the condition is true (repeatable).")(f)


def stop_on_option(help: str = STOP_ON_HELP) -> Decorator:
    """`--stop-on SPEC` (repeatable), checked and read into `stop_on`."""
    return click.option("--stop-on", "stop_on", multiple=True, metavar="SPEC", callback=_stop_ons, help=help)


def debug_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--stop-on (data breakpoints) and the hidden --no-eval (what `serve` passes without --allow-eval)."""
    f = click.option("--no-eval", "no_eval", is_flag=True, hidden=True,
                     help="Refuse evaluation, watches and conditions (serve without --allow-eval).")(f)
    return stop_on_option()(f)


def watch_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--watch EXPR` (repeatable), each checked to be an expression, read into `watches`."""
    return click.option("--watch", "watches", multiple=True, metavar="EXPR", callback=_watches,
                        help="Evaluate EXPR at every step and print its value under it (repeatable): w.grad, "
                             "loss.item().")(f)


def conditions_of(breaks: Iterable[Break]) -> dict[int, str]:
    """{line: condition} of the --break values that have one."""
    return {b.line: b.condition for b in breaks if b.condition is not None}
