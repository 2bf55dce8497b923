"""The `tensorscope` command: run (TUI), trace, check, list. The TUI is imported only by `run`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tensorscope import __version__

EXIT_CLEAN, EXIT_FLAGGED, EXIT_CANNOT_RUN = 0, 1, 2


def _script_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that runs a script."""
    f = click.argument("args", nargs=-1, type=click.UNPROCESSED)(f)
    f = click.argument("script")(f)
    f = click.option(
        "--trace", "trace_modules", multiple=True, metavar="MODULE",
        help="Also step through this module of yours (repeatable).",
    )(f)
    f = click.option(
        "--simulate-cuda", is_flag=True,
        help="Behave as a 1-GPU machine while the data stays on the CPU.",
    )(f)
    return f


def _lang_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
        help="Language of the explanations.",
    )(f)


def _load(script: str, args: tuple[str, ...]) -> Any:
    """The ScriptTarget, or exit 2 with one clear line."""
    from tensorscope.engine import ScriptError, ScriptTarget

    try:
        return ScriptTarget.load(script, list(args))
    except ScriptError as exc:
        click.echo(f"tensorscope: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)


def _check_simulate_cuda(simulate_cuda: bool) -> None:
    """--simulate-cuda is for machines without a GPU: on one with CUDA, exit 2 with one clear line."""
    if simulate_cuda:
        from tensorscope.engine.simcuda import SimulateCudaError, SimulatedCuda

        try:
            SimulatedCuda()
        except SimulateCudaError as exc:
            click.echo(f"tensorscope: {exc}", err=True)
            sys.exit(EXIT_CANNOT_RUN)


def _exit_code(trace: Any) -> int:
    if trace.end_reason in ("exception", "timeout") or (trace.exit_code or 0) != 0:
        return EXIT_FLAGGED
    if any(f.severity in ("error", "warning") for f in trace.flags):
        return EXIT_FLAGGED
    return EXIT_CLEAN


CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="tensorscope")
def main() -> None:
    """tensorscope — step through a PyTorch script, see every tensor, catch the classic mistakes.

    SCRIPT is a path or the name of a bundled scenario (see `tensorscope list`).
    Arguments for the script go after `--`:  tensorscope run train.py -- --epochs 3
    """


@main.command()
@_script_options
@_lang_option
@click.option("--break", "breaks", multiple=True, type=int, metavar="LINE",
              help="Breakpoint at this line of the script (repeatable).")
def run(script: str, args: tuple[str, ...], trace_modules: tuple[str, ...], simulate_cuda: bool,
        lang: str, breaks: tuple[int, ...]) -> None:
    """Open the step-debugger on SCRIPT."""
    _check_simulate_cuda(simulate_cuda)
    target = _load(script, args)
    try:
        from tensorscope.tui.app import TensorScopeApp
    except ImportError as exc:
        click.echo(f"tensorscope: the terminal UI is not available ({exc})", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    app = TensorScopeApp(target, lang=lang, breakpoints=breaks, trace_modules=trace_modules,
                         simulate_cuda=simulate_cuda)
    app.run()


@main.command()
@_script_options
@_lang_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole Trace as JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the report (or JSON, for a .json file) here instead of stdout.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many steps (the trace says so).")
def trace(script: str, args: tuple[str, ...], trace_modules: tuple[str, ...], simulate_cuda: bool,
          lang: str, as_json: bool, output: str | None, max_steps: int | None) -> None:
    """Run SCRIPT headless and report every step: line, tensors changed, output, flags."""
    from tensorscope.checks import default_checks
    from tensorscope.engine import Session
    from tensorscope.report import trace_report

    _check_simulate_cuda(simulate_cuda)
    target = _load(script, args)
    session = Session(target, trace_modules=trace_modules, monitors=default_checks(),
                      max_steps=max_steps, simulate_cuda=simulate_cuda)
    result = session.record()
    if as_json or (output and output.endswith(".json")):
        text = result.to_json(indent=1) + "\n"
    else:
        text = trace_report(result, lang)
    _write(text, output)
    sys.exit(_exit_code(result))


@main.command()
@_script_options
@_lang_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop the script after this long.")
def check(script: str, args: tuple[str, ...], trace_modules: tuple[str, ...], simulate_cuda: bool,
          lang: str, as_json: bool, timeout: float | None) -> None:
    """Run SCRIPT headless with every check on; exit 1 if anything is flagged (for CI)."""
    from tensorscope.checks import default_checks
    from tensorscope.engine import Session
    from tensorscope.report import check_report

    _check_simulate_cuda(simulate_cuda)
    target = _load(script, args)
    session = Session(target, trace_modules=trace_modules, monitors=default_checks(),
                      keep_steps=False, simulate_cuda=simulate_cuda)
    result = session.run(timeout=timeout)
    if as_json:
        exc = result.exception
        payload = {
            "script": result.script,
            "completed": result.completed,
            "end_reason": result.end_reason,
            "exit_code": result.exit_code,
            "simulated_cuda": result.simulated_cuda,
            "exception": None if exc is None else
            {"type": exc.type, "message": exc.message, "line": exc.line},
            "stdout": result.stdout,
            "flags": [
                {"code": f.code, "severity": f.severity, "line": f.line, "function": f.function,
                 "message": f.message, "hint": f.hint, "tensors": list(f.tensors)}
                for f in result.flags
            ],
        }
        click.echo(json.dumps(payload, indent=1, ensure_ascii=False))
    else:
        click.echo(check_report(result, lang), nl=False)
    sys.exit(_exit_code(result))


@main.command(name="list")
def list_() -> None:
    """List the bundled teaching scenarios."""
    from tensorscope.engine import list_scenarios

    for path in list_scenarios():
        click.echo(f"{path.stem:<30} {_first_doc_line(path)}")


def _first_doc_line(path: Path) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, OSError, UnicodeDecodeError):
        doc = None
    return doc.strip().splitlines()[0] if doc else ""


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"tensorscope: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
