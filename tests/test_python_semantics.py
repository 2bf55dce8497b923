"""Every script of tests/semantics/ behaves under `tensorscope check` and `trace` exactly as under python.

Each corpus script runs three times with the interpreter running the tests (tests/corpus_runs.py):
`python SCRIPT`, `python -m tensorscope check --json SCRIPT` and `python -m tensorscope trace SCRIPT -o
out.json`. What the script printed (stdout, stderr), how it ended (its exit status, its uncaught
exception) and the status of the tensorscope command are compared with plain python's. A corpus script
may declare the flags `check` must raise on it in a `# flags: CODE ...` line; every other script must
raise none.

Where tensorscope differs today, the difference is listed in KNOWN (script, aspect, on which Pythons,
what differs). Such a script's test checks that exactly its known differences are still there, then
reports itself as xfailed with them; it fails on any new difference and on a known one that went away
(the fixer removes that KNOWN entry).
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from corpus_runs import CORPUS, Run, Runs, corpus_folder, corpus_runs

SCRIPTS = sorted(p.stem for p in CORPUS.glob("*.py"))
TRACEBACK_HEAD = "Traceback (most recent call last):\n"

ASPECTS = ("check-output", "check-stdout", "check-exception", "check-status", "check-flags",
           "trace-output", "trace-quiet", "trace-stdout", "trace-stderr", "trace-exception", "trace-status")
# (script, aspect) -> (on this Python?, what differs today); *-output: no JSON / no trace file at all.
KNOWN: dict[tuple[str, str], tuple[bool, str]] = {
}


def declared_flags(name: str) -> set[str]:
    """The flag codes a corpus script says `check` must raise on it (its `# flags:` line, and its
    `# flags without a GPU:` line on a machine without CUDA)."""
    text = (CORPUS / f"{name}.py").read_text(encoding="utf-8")
    found = re.search(r"^# flags:(.*)$", text, re.M)
    codes = set(found.group(1).split()) if found else set()
    found = re.search(r"^# flags without a GPU:(.*)$", text, re.M)
    if found and not torch.cuda.is_available():
        codes |= set(found.group(1).split())
    return codes


def script_status(completed: bool, exit_code: int | None, exception_type: str | None) -> int | None:
    """The exit status python gives a script that ended as tensorscope reports (None: not a status)."""
    if exception_type is not None:
        return -signal.SIGINT if exception_type == "KeyboardInterrupt" else 1
    if exit_code is not None:
        return exit_code
    return 0 if completed else None


def uncaught_line(plain: Run) -> str | None:
    """The last line of python's traceback (`ValueError: boom`), None when the script raised nothing."""
    if TRACEBACK_HEAD not in plain.stderr:
        return None
    return plain.stderr.rstrip("\n").splitlines()[-1]


def without_traceback(stderr: str) -> str:
    """Python's stderr up to the traceback of the exception that ended the script."""
    head = stderr.find(TRACEBACK_HEAD)
    return stderr if head < 0 else stderr[:head]


def tool_status(plain: Run, flags: list[dict[str, Any]]) -> int:
    """The status `check`/`trace` must exit with: 0 clean, 1 when flagged or the script failed."""
    if plain.returncode != 0 or any(f["severity"] in ("error", "warning") for f in flags):
        return 1
    return 0


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this test run's corpus runs (shared with the other corpus tests)."""
    return corpus_folder(tmp_path_factory)


def _check_differences(r: Runs) -> dict[str, str]:
    """How `check --json` differs from plain python on this script: aspect -> what differs."""
    try:
        data = r.check_json()
    except (AssertionError, ValueError) as exc:
        return {"check-output": f"no JSON on stdout (status {r.check.returncode}): {exc}"}
    found = {}
    if data["stdout"] != r.plain.stdout:
        found["check-stdout"] = f"{data['stdout']!r} != {r.plain.stdout!r}"
    exc = data["exception"]
    got = None if exc is None else (f"{exc['type']}: {exc['message']}" if exc["message"] else exc["type"])
    if got != uncaught_line(r.plain):
        found["check-exception"] = f"{got!r} != {uncaught_line(r.plain)!r}"
    reported = script_status(data["completed"], data["exit_code"], exc and exc["type"])
    expected = tool_status(r.plain, data["flags"])
    if reported != r.plain.returncode or r.check.returncode != expected:
        found["check-status"] = (f"script {reported} != {r.plain.returncode}, "
                                 f"check {r.check.returncode} != {expected}")
    codes = {f["code"] for f in data["flags"]}
    if codes != declared_flags(r.name):
        found["check-flags"] = f"{sorted(codes)} != {sorted(declared_flags(r.name))}"
    return found


def _trace_differences(r: Runs) -> dict[str, str]:
    """How `trace -o out.json` differs from plain python on this script: aspect -> what differs."""
    try:
        trace = r.recorded()
    except (AssertionError, ValueError) as exc:
        return {"trace-output": f"no trace written (status {r.trace.returncode}): {exc}"}
    found = {}
    if r.trace.stdout:
        found["trace-quiet"] = f"trace -o printed {r.trace.stdout!r}"
    if trace.stdout != r.plain.stdout:
        found["trace-stdout"] = f"{trace.stdout!r} != {r.plain.stdout!r}"
    if trace.stderr not in (r.plain.stderr, without_traceback(r.plain.stderr)):
        found["trace-stderr"] = f"{trace.stderr!r} != {r.plain.stderr!r}"
    exc = trace.exception
    got = None if exc is None else (f"{exc.type}: {exc.message}" if exc.message else exc.type)
    if got != uncaught_line(r.plain):
        found["trace-exception"] = f"{got!r} != {uncaught_line(r.plain)!r}"
    reported = script_status(trace.completed, trace.exit_code, exc.type if exc else None)
    expected = tool_status(r.plain, [{"severity": f.severity} for f in trace.flags])
    if reported != r.plain.returncode or r.trace.returncode != expected:
        found["trace-status"] = (f"script {reported} != {r.plain.returncode}, "
                                 f"trace {r.trace.returncode} != {expected}")
    return found


def known_differences(name: str) -> dict[str, str]:
    """The differences KNOWN lists for this script on the running Python: aspect -> reason."""
    return {aspect: reason for (script, aspect), (applies, reason) in KNOWN.items()
            if script == name and applies}


def test_corpus_is_small_and_documented() -> None:
    """Each corpus script is short and says what it exercises; KNOWN names only corpus scripts."""
    assert len(SCRIPTS) >= 30
    for name in SCRIPTS:
        text = (CORPUS / f"{name}.py").read_text(encoding="utf-8")
        assert len(text.splitlines()) < 40, name
        assert text.startswith('"""'), name
    assert {script for script, _ in KNOWN} <= set(SCRIPTS)
    assert {aspect for _, aspect in KNOWN} <= set(ASPECTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_behaves_as_under_python(name: str, corpus: Path) -> None:
    """stdout, stderr, exit status, uncaught exception and flags under check and trace are python's."""
    r = corpus_runs(name, corpus)
    found = {**_check_differences(r), **_trace_differences(r)}
    known = known_differences(name)
    new = {aspect: what for aspect, what in found.items() if aspect not in known}
    assert not new, f"{name} under tensorscope differs from python: {new}"
    gone = sorted(set(known) - set(found))
    assert not gone, f"{name}: fixed, remove from KNOWN: {gone}"
    if known:
        pytest.xfail("; ".join(f"{aspect}: {reason}" for aspect, reason in sorted(known.items())))


def test_cuda_answers_as_under_python_when_the_caller_asked_first(corpus: Path) -> None:
    """A run started by a process that already asked torch.cuda.is_available() (a notebook, the test suite,
    `--simulate-cuda`'s check) still gets python's answers to the script's CUDA requests."""
    from tensorscope.engine import ScriptTarget
    from tensorscope.engine.process import run_headless, spec_for

    plain = corpus_runs("cuda_request", corpus).plain
    torch.cuda.is_available()
    result = run_headless(spec_for(ScriptTarget.load(str(corpus / "scripts" / "cuda_request.py"), []), "run"))
    assert result.internal_errors == [] and result.trace.completed
    assert result.trace.stdout == plain.stdout
