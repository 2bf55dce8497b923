"""Plain-text reports of a Trace: the step-by-step `trace` report and the `check` summary."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tensorscope.diff import Change, diff_steps, is_yield
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag, RaisedInfo, Step, Trace
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
    text = render(flag.code, lang, flag.data) if flag.data else None
    message = text.message if text and lang != "en" else flag.message
    lines = [f"{SEVERITY_MARK.get(flag.severity, '!')} {flag.severity} {flag.code} "
             f"(line {flag.line}, in {flag.function}): {message}"]
    if explain and text is not None and text.cause:
        lines.append(f"  {'why' if lang == 'en' else '原因'}: {text.cause}")
    fix = text.fix if text and lang != "en" else flag.hint
    if fix:
        lines.append(f"  {'fix' if lang == 'en' else '修复'}: {fix}")
    return lines


def step_header(trace: Trace, step: Step, prev: Step | None) -> str:
    """`[  12] ran line  24: loss.backward()`, plus where execution went when it changed frame."""
    n = f"[{step.index:>4}]"
    if not step.line:
        return f"{n} end: the script has no code to run"
    if prev is None or step.prev_line is None:
        return f"{n} start at line {step.line}: {_code_at(trace, step.file, step.line)}"
    text = f"{n} ran line {step.prev_line:>3}: {_code_at(trace, step.prev_file, step.prev_line)}"
    if step.event == "exception":
        return f"{text}  ✖ raised {step.exception.type if step.exception else ''}".rstrip()
    if step.event == "return":
        if is_yield(step):
            return f"{text}  → {step.function} yields (paused until the next value is asked for)"
        return f"{text}  → return from {step.function}"
    if step.depth > prev.depth or (step.depth == prev.depth and step.function != prev.function):
        return f"{text}  → into {step.function}"
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
        out.append(step_header(trace, step, prev))
        if step.raised is not None and step.exception is None:
            out.append("         " + raised_text(trace, step.raised))
        out.extend("         " + format_change(c) for c in diff_steps(prev, step))
        out.extend("         " + s for s in _scope_notes(prev, step, lang))
        out.extend("         " + s for s in optimizer_notes(prev, step, lang))
        out.extend(f"         > {shown_safely(line)}" for line in _lines(step.stdout))
        out.extend(f"         ! {shown_safely(line)}" for line in _lines(step.stderr))
        for flag in step.flags:
            out.extend("         " + s for s in format_flag(flag, lang))
        prev = step
    out.append(ending(trace))
    return "\n".join(out) + "\n"


_NOTES = {
    "en": {"more": "… {count} more in {name} (not listed)", "inference_on": "inference mode on",
           "inference_off": "inference mode off"},
    "zh": {"more": "… {name} 中还有 {count} 个（未列出）", "inference_on": "推理模式开启",
           "inference_off": "推理模式关闭"},
}


def _scope_notes(prev: Step | None, step: Step, lang: str) -> list[str]:
    """What the change list cannot say: containers cut short (`… 47 more in xs`), inference mode on/off."""
    w = _NOTES.get(lang, _NOTES["en"])
    out: list[str] = []
    if step.inference_mode != (prev.inference_mode if prev is not None else False):
        out.append(w["inference_on"] if step.inference_mode else w["inference_off"])
    before = set(prev.more) if prev is not None else set()
    out.extend(w["more"].format(count=count, name=name) for name, count in step.more
               if (name, count) not in before)
    return out


def raised_text(trace: Trace, raised: RaisedInfo) -> str:
    """`↯ raised RuntimeError at line 10, caught at line 11`: an exception the script raised (and caught)."""
    elsewhere = raised.file and raised.file != trace.script
    where = f"line {raised.line}" + (f" of {raised.file}" if elsewhere else "")
    caught = f", caught at line {raised.caught_line}" if raised.caught_line is not None else ""
    return f"↯ raised {raised.type} at {where}{caught}"


def ending(trace: Trace) -> str:
    """One line saying how the run ended."""
    n = len(trace.steps)
    after = f" after {n} steps" if n else ""
    if trace.end_reason == "exception" and trace.exception is not None:
        e = trace.exception
        what = f"{e.type}: {e.message}" if e.message else e.type
        return f"✖ {what} (line {e.line}, in {e.function})"
    if trace.end_reason == "exit":
        if trace.exit_code:
            return f"✖ the script exited with status {trace.exit_code}{after}"
        return f"the script exited with status 0 (a normal end){after}"
    if trace.end_reason == "max-steps":
        return f"stopped after {n} steps (--max-steps reached); the script did not finish"
    if trace.end_reason == "timeout":
        return f"stopped{after}: the time limit (--timeout) was reached; the script did not finish"
    if trace.end_reason == "stopped":
        return f"stopped{after} (interrupted); the script did not finish"
    return f"finished{after}"


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


_ZH_SEVERITY = {"error": "个错误", "warning": "个警告", "info": "条提示"}


def verdict(flags: Iterable[Flag], trace: Trace, lang: str = "en") -> str:
    """`1 error, 0 warnings, 2 infos; the script finished` (or how it ended), in `lang`."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in flags:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    if lang == "zh":
        summary = "，".join(f"{v} {_ZH_SEVERITY.get(k, k)}" for k, v in counts.items())
        end = ending(trace) if trace.end_reason != "finished" else "脚本运行结束"
        return f"{summary}；{end}"
    summary = ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in counts.items())
    end = ending(trace) if trace.end_reason != "finished" else "the script finished"
    return f"{summary}; {end}"
