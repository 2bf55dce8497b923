"""Plain-text reports of a Trace: the step-by-step `trace` report and the `check` summary."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tensorscope import i18n
from tensorscope.diff import Change, diff_steps, is_yield
from tensorscope.explain.catalogue import flag_text
from tensorscope.model import Evaluation, Flag, RaisedInfo, Step, Trace
from tensorscope.optim_diff import optimizer_notes

SEVERITY_MARK = {"error": "✖", "warning": "⚠", "info": "ℹ"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def shown_safely(line: str) -> str:
    """One line of the script's output as text that cannot drive the terminal: a carriage return keeps
    what a terminal would show, ESC is `␛` and other control characters their caret form (`^G`)."""
    if "\r" in line:
        line = line.rstrip("\r").rsplit("\r", 1)[-1]
    return _CONTROL.sub(lambda m: "^" + chr(ord(m.group()) ^ 0x40), line.replace("\x1b", "␛"))


def _code_at(trace: Trace, file: str | None, line: int | None) -> str:
    if line is None:
        return ""
    lines = trace.sources.get(file or trace.script, ())
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def format_change(c: Change) -> str:
    if c.kind == "new":
        return f"+ {c.name} {c.after}"
    if c.kind == "gone":
        return f"- {c.name}"
    if c.kind == "grad":
        return f"~ {c.name}.grad: {c.before} → {c.after}"
    if c.kind == "value":
        return f"~ {c.name}: {c.before} → {c.after}"
    return f"~ {c.name}.{c.kind}: {c.before} → {c.after}"


def format_flag(flag: Flag, lang: str = "en", explain: bool = False) -> list[str]:
    """A flag as report lines, its words rendered in `lang` from its code and data."""
    w = i18n.table(lang, "report")
    text = flag_text(flag, lang)
    lines = [w["flag_line"].format(
        mark=SEVERITY_MARK.get(flag.severity, "!"), severity=w.get(f"sev_{flag.severity}", flag.severity),
        code=flag.code, where=w["flag_where"].format(line=flag.line, function=flag.function),
        message=text.message)]
    if explain and flag.data and text.cause:
        lines.append(w["flag_label"].format(label=w["why"], text=text.cause))
    if text.fix:
        lines.append(w["flag_label"].format(label=w["fix"], text=text.fix))
    return lines


def step_header(trace: Trace, step: Step, prev: Step | None, lang: str = "en") -> str:
    """`[  12] ran line  24: loss.backward()`, plus where execution went when it changed frame."""
    w = i18n.table(lang, "report")
    n = f"[{step.index:>4}]"
    if not step.line:
        return w["step_empty"].format(n=n)
    if prev is None or step.prev_line is None:
        return w["step_start"].format(n=n, line=step.line, code=_code_at(trace, step.file, step.line))
    code = _code_at(trace, step.prev_file, step.prev_line)
    text = w["step_ran"].format(n=n, line=step.prev_line, code=code)
    if step.event == "exception":
        return w["step_raised"].format(text=text, type=step.exception.type if step.exception else "").rstrip()
    if step.event == "return":
        return w["step_yields" if is_yield(step) else "step_return"].format(text=text, function=step.function)
    if step.depth > prev.depth or (step.depth == prev.depth and step.function != prev.function):
        return w["step_into"].format(text=text, function=step.function)
    return text


def _lines(text: str) -> list[str]:
    """Lines split at newlines only (a lone `\r` stays in its line, as on a terminal)."""
    if not text:
        return []
    return text.removesuffix("\n").split("\n")


def trace_report(trace: Trace, lang: str = "en") -> str:
    """Each step: the line just run, the tensors it changed, what it printed, the flags it raised."""
    out = [f"tensorscope trace · {trace.script}" + (f" {' '.join(trace.argv)}" if trace.argv else "")]
    prev: Step | None = None
    for step in trace.steps:
        out.append(step_header(trace, step, prev, lang))
        if step.raised is not None and step.exception is None:
            out.append("         " + raised_text(trace, step.raised, lang))
        out.extend("         " + format_change(c) for c in diff_steps(prev, step, lang))
        out.extend("         " + s for s in _scope_notes(prev, step, lang))
        out.extend("         " + s for s in optimizer_notes(prev, step, lang))
        out.extend(f"         > {shown_safely(line)}" for line in _lines(step.stdout))
        out.extend(f"         ! {shown_safely(line)}" for line in _lines(step.stderr))
        for flag in step.flags:
            out.extend("         " + s for s in format_flag(flag, lang))
        for watch in step.watches:
            out.extend("         " + s for s in watch_lines(watch, lang))
        prev = step
    out.append(ending(trace, lang))
    return "\n".join(out) + "\n"


def watch_lines(ev: Evaluation, lang: str = "en") -> list[str]:
    """A watched expression's value at a step (`trace --watch`): `◇ w.grad = tensor([...])`, its error, or
    why it was not evaluated; a value of several lines keeps them, indented under the first."""
    w = i18n.table(lang, "report")
    if ev.kind in ("error",):
        return [w["watch_error"].format(source=ev.source, error=shown_safely(ev.text))]
    if ev.kind in ("timeout", "refused"):
        return [w["watch_stopped"].format(source=ev.source, why=shown_safely(ev.text))]
    value = ev.text
    if not value and ev.tensor is not None:
        t = ev.tensor
        value = f"{t.shape_text} {t.dtype} {t.device}" + (f" {t.preview}" if t.preview else "")
    first, *rest = [shown_safely(line) for line in (value or "").split("\n")] or [""]
    head = w["watch_value"].format(source=ev.source, value=first)
    return [head, *("    " + line for line in rest)]


def _scope_notes(prev: Step | None, step: Step, lang: str) -> list[str]:
    """What the change list cannot say: containers cut short (`… 47 more in xs`), inference mode on/off."""
    w = i18n.table(lang, "report")
    out: list[str] = []
    if step.inference_mode != (prev.inference_mode if prev is not None else False):
        out.append(w["inference_on"] if step.inference_mode else w["inference_off"])
    before = set(prev.more) if prev is not None else set()
    out.extend(w["more"].format(count=count, name=name) for name, count in step.more
               if (name, count) not in before)
    return out


def raised_text(trace: Trace, raised: RaisedInfo, lang: str = "en") -> str:
    """`↯ raised RuntimeError at line 10, caught at line 11`: an exception the script raised (and caught)."""
    w = i18n.table(lang, "report")
    elsewhere = raised.file and raised.file != trace.script
    where = w["raised_where_file" if elsewhere else "raised_where"].format(line=raised.line, file=raised.file)
    caught = w["raised_caught"].format(line=raised.caught_line) if raised.caught_line is not None else ""
    return w["raised_at"].format(type=raised.type, where=where, caught=caught)


def ending(trace: Trace, lang: str = "en") -> str:
    """One line saying how the run ended."""
    w = i18n.table(lang, "report")
    n = len(trace.steps)
    after = w["after_steps"].format(n=n) if n else ""
    if trace.end_reason == "exception" and trace.exception is not None:
        e = trace.exception
        what = f"{e.type}: {e.message}" if e.message else e.type
        return w["end_exception"].format(what=what, line=e.line, function=e.function)
    if trace.end_reason == "exit":
        if trace.exit_code:
            return w["end_exit_error"].format(code=trace.exit_code, after=after)
        return w["end_exit_ok"].format(after=after)
    if trace.end_reason == "max-steps":
        return w["end_max_steps"].format(n=n)
    if trace.end_reason == "timeout":
        return w["end_timeout"].format(after=after)
    if trace.end_reason == "stopped":
        return w["end_stopped"].format(after=after)
    return w["end_done"].format(after=after)


def check_report(trace: Trace, lang: str = "en") -> str:
    """Flags grouped by line, each with cause and fix; then a one-line verdict."""
    out = [f"tensorscope check · {trace.script}"]
    by_line: dict[tuple[str, int], list[Flag]] = {}
    for f in trace.flags:
        by_line.setdefault((f.file or trace.script, f.line), []).append(f)
    for (file, line), flags in sorted(by_line.items(), key=lambda kv: (kv[0][0] != trace.script, kv[0])):
        out.append(f"{file}:{line}: {_code_at(trace, file, line)}")
        for f in flags:
            out.extend("  " + s for s in format_flag(f, lang, explain=True))
    out.append(verdict(trace.flags, trace, lang))
    return "\n".join(out) + "\n"


def verdict(flags: Iterable[Flag], trace: Trace, lang: str = "en") -> str:
    """`1 error, 0 warnings, 2 infos; the script finished` (or how it ended), in `lang`."""
    w = i18n.table(lang, "report")
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in flags:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    plural = {True: "", False: "s"}
    summary = w["count_sep"].join(w[f"count_{k}{plural[v == 1]}"].format(n=v) for k, v in counts.items())
    end = ending(trace, lang) if trace.end_reason != "finished" else w["end_finished"]
    return w["verdict"].format(summary=summary, end=end)
