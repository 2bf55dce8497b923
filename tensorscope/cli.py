"""The `tensorscope` command: run (TUI), trace, check, list, schema. The TUI is imported only by `run`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tensorscope import __version__
from tensorscope.cli_options import break_option, conditions_of, debug_options, stop_on_option, watch_option
from tensorscope.engine.sampling import EVERY, FULL_PASSES
from tensorscope.explain.catalogue import LANGS

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


def _autoplay_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--autoplay", type=click.FloatRange(min=0.05), default=None, metavar="SECONDS",
        help="Step by itself, a line every SECONDS; stops at each new warning or error (space: pause/go).",
    )(f)


def _load_trace(path: str) -> Any:
    """The recorded Trace in a JSON file, or exit 2 with one clear line."""
    from tensorscope.model import Trace

    try:
        return Trace.from_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        click.echo(f"tensorscope: cannot read {path}: {exc.strerror or exc}", err=True)
    except (ValueError, UnicodeDecodeError) as exc:
        click.echo(f"tensorscope: {path} is not a tensorscope trace ({exc}); record one with "
                   "`tensorscope trace SCRIPT -o TRACE.json`", err=True)
    sys.exit(EXIT_CANNOT_RUN)


def _lang_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--lang", type=click.Choice(list(LANGS)), default="en", show_default=True,
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
    """0 clean, 1 flagged or not finished (internal errors never get here: `_run_engine` exits 2)."""
    if trace.end_reason in ("exception", "timeout", "stopped") or (trace.exit_code or 0) != 0:
        return EXIT_FLAGGED
    if any(f.severity in ("error", "warning") for f in trace.flags):
        return EXIT_FLAGGED
    return EXIT_CLEAN


def _run_engine(target: Any, mode: str, timeout: float | None,
                on_output: Callable[[str, str], None] | None = None, **options: Any) -> Any:
    """Run the script in an engine process (`os._exit`, signals, a crash are the script's, not ours);
    its Trace. Errors inside tensorscope are printed on stderr and exit 2."""
    from tensorscope.engine.process import run_headless, spec_for

    outcome = run_headless(spec_for(target, mode, **options), timeout=timeout,  # type: ignore[arg-type]
                           on_output=on_output)
    if outcome.error is not None:  # the run could not start: say why, as for a missing script
        click.echo(f"tensorscope: {outcome.error}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    errors = dict.fromkeys([*outcome.internal_errors, *outcome.trace.internal_errors])  # each once
    if errors:
        for error in errors:
            click.echo(f"tensorscope: internal error in {error}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    return outcome.trace


class _LiveOutput:
    """What the script writes, passed on as it writes it (stdout to stdout, stderr to stderr)."""

    def __init__(self) -> None:
        self._open_line = False

    def __call__(self, stream: str, text: str) -> None:
        out = sys.stdout if stream == "stdout" else sys.stderr
        out.write(text)
        out.flush()
        if stream == "stdout" and text:
            self._open_line = not text.endswith("\n")

    def end_line(self) -> None:
        """The report starts on a line of its own, even when the script's last print did not end one."""
        if self._open_line:
            sys.stdout.write("\n")
            self._open_line = False


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
@break_option
@debug_options
@_autoplay_option
def run(script: str, args: tuple[str, ...], trace_modules: tuple[str, ...], simulate_cuda: bool,
        lang: str, breaks: tuple[Any, ...], stop_on: tuple[str, ...], no_eval: bool,
        autoplay: float | None) -> None:
    """Open the step-debugger on SCRIPT."""
    target = _load(script, args)
    from tensorscope.engine.process import warm_up

    warm_up()  # the engine's fork server imports torch while the UI loads (the UI never imports it)
    try:
        from tensorscope.tui.app import TensorScopeApp
    except ImportError as exc:
        click.echo(f"tensorscope: the terminal UI is not available ({exc})", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    app = TensorScopeApp(target, lang=lang, breakpoints=[b.line for b in breaks], trace_modules=trace_modules,
                         simulate_cuda=simulate_cuda, autoplay=autoplay, conditions=conditions_of(breaks),
                         stop_on=stop_on, allow_eval=not no_eval)
    app.run()


@main.command()
@click.argument("trace_file", metavar="TRACE", type=click.Path(dir_okay=False))
@_lang_option
@break_option
@debug_options
@_autoplay_option
def replay(trace_file: str, lang: str, breaks: tuple[Any, ...], stop_on: tuple[str, ...], no_eval: bool,
           autoplay: float | None) -> None:
    """Open the step-debugger on a recorded run (`tensorscope trace SCRIPT -o TRACE.json`).

    Nothing is run and the script need not be here: the trace carries its source, every step and flag.
    """
    recorded = _load_trace(trace_file)
    try:
        from tensorscope.tui.app import TensorScopeApp
    except ImportError as exc:
        click.echo(f"tensorscope: the terminal UI is not available ({exc})", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    TensorScopeApp(recorded, lang=lang, breakpoints=[b.line for b in breaks], autoplay=autoplay,
                   conditions=conditions_of(breaks), stop_on=stop_on, allow_eval=not no_eval).run()


@main.command()
@click.argument("script", metavar="SCRIPT|TRACE")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network interface, e.g. for a classroom).")
@_lang_option
@break_option
@stop_on_option("Data breakpoint in every tab (repeatable): grad:NAME, change:NAME, nan, flag:CODE.")
@click.option("--allow-eval", is_flag=True,
              help="Let the browsers evaluate expressions, run statements, watch and set conditions: code "
                   "that runs on this machine. Off by default.")
@_autoplay_option
@click.option("--simulate-cuda", is_flag=True,
              help="Behave as a 1-GPU machine while the data stays on the CPU.")
@click.option("--trace", "trace_modules", multiple=True, metavar="MODULE",
              help="Also step through this module of yours (repeatable).")
def serve(script: str, args: tuple[str, ...], port: int, host: str, lang: str, breaks: tuple[Any, ...],
          stop_on: tuple[str, ...], allow_eval: bool, autoplay: float | None, simulate_cuda: bool,
          trace_modules: tuple[str, ...]) -> None:
    """Serve the step-debugger on SCRIPT (or a recorded TRACE.json) to web browsers.

    Every browser tab gets its own run. Open http://HOST:PORT/ ; stop the server with Ctrl+C.
    """
    from tensorscope.serve import app_command, eval_notice, is_trace_file

    conditional = [str(b) for b in breaks if b.condition is not None]
    if conditional and not allow_eval:
        raise click.UsageError(f"--break {conditional[0]}: a condition is code run on this machine; serve "
                               "evaluates conditions only with --allow-eval")
    if is_trace_file(script):
        recorded = _load_trace(script)
        title = f"tensorscope · {recorded.script}"
    else:
        _check_simulate_cuda(simulate_cuda)
        title = f"tensorscope · {_load(script, args).display}"
    command = app_command(script, args, lang=lang, autoplay=autoplay, simulate_cuda=simulate_cuda,
                          trace_modules=trace_modules, breaks=[str(b) for b in breaks], stop_on=stop_on,
                          allow_eval=allow_eval)
    notice = eval_notice(host, port, allow_eval)
    if notice:
        click.echo(notice, err=True)
    try:
        from tensorscope.serve import make_server

        server = make_server(command, host, port, title)
    except ImportError as exc:
        click.echo(f"tensorscope: serving needs textual-serve ({exc}): pip install 'tensorscope[serve]'",
                   err=True)
        sys.exit(EXIT_CANNOT_RUN)
    try:
        server.serve()
    except OSError as exc:  # e.g. the port is taken
        click.echo(f"tensorscope: cannot serve on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)


@main.command()
@_script_options
@_lang_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole Trace as JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the report (or JSON, for a .json file) here instead of stdout.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many steps (the trace says so).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop the script after this long (the trace so far is kept).")
@watch_option
def trace(script: str, args: tuple[str, ...], trace_modules: tuple[str, ...], simulate_cuda: bool,
          lang: str, as_json: bool, output: str | None, max_steps: int | None,
          timeout: float | None, watches: tuple[str, ...]) -> None:
    """Run SCRIPT headless and report every step: line, tensors changed, output, flags."""
    from tensorscope.report import ending, trace_report

    target = _load(script, args)
    result = _run_engine(target, "record", timeout, trace_modules=trace_modules, max_steps=max_steps,
                         simulate_cuda=simulate_cuda, watches=watches)
    if as_json or (output and output.endswith(".json")):
        text = result.to_json(indent=1) + "\n"
    else:
        text = trace_report(result, lang)
    _write(text, output)
    if output is not None:  # the report went to a file: say how the run ended here
        click.echo(f"tensorscope: wrote {output}; {ending(result)}", err=True)
    sys.exit(_exit_code(result))


@main.command()
@_script_options
@_lang_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop the script after this long.")
@click.option("--quiet", "-q", is_flag=True,
              help="Do not show the script's own output while it runs (--json never does: see `stdout`).")
@click.option("--every-pass", is_flag=True,
              help=f"Check every pass of every loop (slower). By default each loop's first {FULL_PASSES} "
                   f"passes are checked, then one in {EVERY}.")
def check(script: str, args: tuple[str, ...], trace_modules: tuple[str, ...], simulate_cuda: bool,
          lang: str, as_json: bool, timeout: float | None, quiet: bool, every_pass: bool) -> None:
    """Run SCRIPT headless with every check on; exit 1 if anything is flagged (for CI).

    The script's own output shows as it runs (as under python), then the report.

    A training loop's mistakes show in its first passes or persist (NaN, a graph kept alive), so after
    a loop's first passes only one in a few is checked and the others run at full speed; an exception
    is always seen. --every-pass checks them all.
    """
    from tensorscope.report import check_report

    target = _load(script, args)
    live = None if quiet or as_json else _LiveOutput()
    result = _run_engine(target, "run", timeout, on_output=live, trace_modules=trace_modules,
                         simulate_cuda=simulate_cuda, every_pass=every_pass)
    if live is not None:
        live.end_line()
    if as_json:  # its format: `tensorscope schema check` (docs/check.schema.json)
        from tensorscope.schema import check_payload

        click.echo(json.dumps(check_payload(result), indent=1, ensure_ascii=False))
    else:
        click.echo(check_report(result, lang), nl=False)
    sys.exit(_exit_code(result))


@main.command()
@_script_options
@_lang_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The SVG file to write.")
@click.option("--size", default="120x40", show_default=True, metavar="COLSxROWS", help="Terminal size.")
@click.option("--steps", type=click.IntRange(min=0), default=None, help="Press n this many times.")
@click.option("--until-line", type=click.IntRange(min=1), default=None, metavar="LINE",
              help="Press n until the next line to run (▶) is LINE.")
@click.option("--until-flag", default=None, metavar="CODE", help="Press n until a CODE flag is listed.")
@click.option("--press", "keys", multiple=True, metavar="KEYS",
              help="Then press these keys (Textual names, comma- or space-separated: left,question_mark).")
@break_option
@stop_on_option("Data breakpoint (repeatable), as for `run`: grad:NAME, change:NAME, nan, flag:CODE.")
def screenshot(script: str, args: tuple[str, ...], trace_modules: tuple[str, ...], simulate_cuda: bool,
               lang: str, output: str, size: str, steps: int | None, until_line: int | None,
               until_flag: str | None, keys: tuple[str, ...], breaks: tuple[Any, ...],
               stop_on: tuple[str, ...]) -> None:
    """Save the step-debugger's screen on SCRIPT as an SVG, after the given steps and keys."""
    if sum(x is not None for x in (steps, until_line, until_flag)) > 1:
        raise click.UsageError("use only one of --steps, --until-line and --until-flag")
    from tensorscope.checks import codes

    if until_flag is not None and until_flag not in codes():
        known = ", ".join(sorted(codes()))
        raise click.BadParameter(f"no flag has the code {until_flag!r}; the codes: {known}",
                                 param_hint="--until-flag")
    try:
        from tensorscope.screenshot import parse_size
        width_height = parse_size(size)
    except ImportError as exc:
        click.echo(f"tensorscope: the terminal UI is not available ({exc})", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--size") from None
    from tensorscope.screenshot import DriveError, make_app, take

    _check_simulate_cuda(simulate_cuda)
    app = make_app(_load(script, args), lang=lang, simulate_cuda=simulate_cuda,
                   breakpoints=[b.line for b in breaks], conditions=conditions_of(breaks), stop_on=stop_on,
                   trace_modules=trace_modules)
    try:
        svg = take(app, width_height, steps=steps, until_line=until_line, until_flag=until_flag, press=keys)
    except DriveError as exc:
        click.echo(f"tensorscope: no screenshot: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    _write(svg, output)


@main.command()
@click.argument("which", type=click.Choice(["trace", "check"]), default="trace")
def schema(which: str) -> None:
    """Print the JSON Schema of `trace --json` (trace) or of `check --json` (check)."""
    from tensorscope.schema import check_schema, dumps, trace_schema

    click.echo(dumps(trace_schema() if which == "trace" else check_schema()), nl=False)


@main.command(name="list")
@_lang_option
def list_(lang: str) -> None:
    """The bundled teaching scenarios as a lesson plan: basics, autograd, training, pitfalls."""
    from tensorscope.engine import list_scenarios
    from tensorscope.lessons import GROUP_TITLES, lesson_plan

    titles = GROUP_TITLES.get(lang, GROUP_TITLES["en"])
    for group, lessons in lesson_plan(list_scenarios(), lang):
        click.echo(click.style(titles[group], bold=True))
        for lesson in lessons:
            click.echo(f"  {lesson.name:<28} {lesson.summary}")
            click.echo(f"  {'':<28} $ {lesson.command}")


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"tensorscope: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
