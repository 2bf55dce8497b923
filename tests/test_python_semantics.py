"""Every script of tests/semantics/ behaves under `tensorscope check` and `trace` exactly as under python.

Each corpus script runs three times, in subprocesses of the interpreter running the tests: `python
SCRIPT`, `python -m tensorscope check --json SCRIPT` and `python -m tensorscope trace SCRIPT -o
out.json`. What the script printed (stdout, stderr), how it ended (its exit status, its uncaught
exception) and the status of the tensorscope command are compared with plain python's. A corpus script
may declare the flags `check` must raise on it in a `# flags: CODE ...` line; every other script must
raise none.

Where tensorscope differs today, the difference is listed in KNOWN (script, aspect, on which Pythons,
what differs). Such a script's test checks that exactly its known differences are still there, then
reports itself as xfailed with them; it fails on any new difference and on a known one that went away
(the fixer removes that KNOWN entry). One test per script keeps pytest-xdist from running a script's
subprocesses on several workers.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tensorscope.model import Trace

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "semantics"
SCRIPTS = sorted(p.stem for p in CORPUS.glob("*.py"))
TIMEOUT = 180
TRACEBACK_HEAD = "Traceback (most recent call last):\n"
PY312 = sys.version_info[:2] == (3, 12)
"""3.12 only: 3.13's frame.f_locals (PEP 667) no longer copies locals back into a running frame."""
ALL = True

ASPECTS = ("check-output", "check-stdout", "check-exception", "check-status", "check-flags",
           "trace-output", "trace-quiet", "trace-stdout", "trace-stderr", "trace-exception", "trace-status")
# (script, aspect) -> (on this Python?, what differs today); *-output: no JSON / no trace file at all.
_UNBOUND = "3.12: tracing an inlined comprehension prints 'RuntimeWarning: assigning None to unbound local'"
_COMPREHENSION = ("3.12: reading f_locals at a line event inside an inlined comprehension writes None into "
                  "its variable: the script fails with a TypeError")
_OS_EXIT = "os._exit is tensorscope's: the script's finally block runs, then atexit handlers print"
KNOWN: dict[tuple[str, str], tuple[bool, str]] = {
    ("closures", "trace-stderr"): (PY312, _UNBOUND),
    ("comprehensions", "check-stdout"): (PY312, _COMPREHENSION),
    ("comprehensions", "check-exception"): (PY312, _COMPREHENSION),
    ("comprehensions", "check-status"): (PY312, _COMPREHENSION),
    ("comprehensions", "check-flags"): (PY312, _COMPREHENSION),
    ("comprehensions", "trace-stdout"): (PY312, _COMPREHENSION),
    ("comprehensions", "trace-stderr"): (PY312, _UNBOUND),
    ("comprehensions", "trace-exception"): (PY312, _COMPREHENSION),
    ("comprehensions", "trace-status"): (PY312, _COMPREHENSION),
    ("exceptions_caught", "trace-stderr"): (PY312, _UNBOUND),
    ("exit_os_exit", "check-output"): (ALL, _OS_EXIT + ", after check's JSON"),
    ("exit_os_exit", "trace-quiet"): (ALL, _OS_EXIT + " into trace's own stdout"),
    ("exit_os_exit", "trace-stdout"): (ALL, _OS_EXIT),
    ("main_module", "check-stdout"): (ALL, "the script's globals lack __annotations__"),
    ("main_module", "trace-stdout"): (ALL, "the script's globals lack __annotations__"),
    ("properties", "check-stdout"): (ALL, "a check reads `h.t.grad` by getattr: the user's @property runs 12 "
                                          "times, not 5"),
    ("properties", "trace-stdout"): (ALL, "a check reads `h.t.grad` by getattr: the user's @property runs 12 "
                                          "times, not 5"),
    ("signals", "check-output"): (ALL, "signal.signal is tensorscope's: the handler is never installed and "
                                       "SIGUSR1 kills check (status -10)"),
    ("signals", "trace-output"): (ALL, "signal.signal is tensorscope's: the handler is never installed and "
                                       "SIGUSR1 kills trace (status -10)"),
    ("threads", "check-stdout"): (ALL, "the script runs in a worker thread: it is not the main thread and "
                                       "active_count() is 2"),
    ("threads", "trace-stdout"): (ALL, "the script runs in a worker thread: it is not the main thread and "
                                       "active_count() is 2"),
    ("threads", "trace-stderr"): (PY312, _UNBOUND),
    ("walrus", "trace-stderr"): (PY312, _UNBOUND),
    ("warnings_torch", "trace-stderr"): (ALL, "PyTorch's warning in F.mse_loss is reported "
                                              "in tensorscope/checks/broadcast_expand.py, not the user line"),
    ("warnings_user", "trace-stderr"): (PY312, _UNBOUND),
}


@dataclass(frozen=True)
class Run:
    """One finished subprocess: its status and what it wrote, decoded as UTF-8 with newlines untouched."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Runs:
    """One corpus script run under plain python, `tensorscope check --json` and `tensorscope trace -o`."""

    name: str
    plain: Run
    check: Run
    trace: Run
    trace_file: Path

    def check_json(self) -> dict[str, Any]:
        """What `check --json` printed, parsed."""
        assert self.check.returncode != 2, self.check.stderr
        return json.loads(self.check.stdout)

    def recorded(self) -> Trace:
        """The Trace that `trace -o` wrote."""
        return _read_trace(self.trace, self.trace_file)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONDEVMODE")}
    env["PYTHONHASHSEED"] = "0"
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _run(argv: list[str], cwd: Path) -> Run:
    done = subprocess.run([sys.executable, *argv], cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TIMEOUT, check=False)
    return Run(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


_FOLDER: list[Path] = []
_COMMANDS = {
    "plain": ["{name}.py"],
    "check": ["-m", "tensorscope", "check", "--json", "{name}.py"],
    "trace": ["-m", "tensorscope", "trace", "{name}.py", "-o", "{name}.trace.json"],
}


def _folder() -> Path:
    """A private copy of the corpus, made once per test process and removed at its exit."""
    if not _FOLDER:
        _FOLDER.append(Path(tempfile.mkdtemp(prefix="tensorscope-semantics-")))
        atexit.register(shutil.rmtree, _FOLDER[0], ignore_errors=True)
        shutil.copytree(CORPUS, _FOLDER[0], dirs_exist_ok=True)
    return _FOLDER[0]


@functools.cache
def corpus_run(name: str, how: str) -> Run:
    """SCRIPT run one way (`plain`, `check` or `trace`), once per test process."""
    return _run([arg.format(name=name) for arg in _COMMANDS[how]], _folder())


def corpus_runs(name: str) -> Runs:
    """SCRIPT run the three ways at once (cached per script, so pytest-xdist's workers split the corpus)."""
    folder = _folder()
    with ThreadPoolExecutor(max_workers=len(_COMMANDS)) as pool:
        done = dict(zip(_COMMANDS, pool.map(lambda how: corpus_run(name, how), _COMMANDS), strict=True))
    return Runs(name, done["plain"], done["check"], done["trace"], folder / f"{name}.trace.json")


def corpus_trace(name: str) -> Trace:
    """The Trace `tensorscope trace SCRIPT -o` recorded (the run the semantics test made, if it ran here)."""
    return _read_trace(corpus_run(name, "trace"), _folder() / f"{name}.trace.json")


def _read_trace(run: Run, path: Path) -> Trace:
    assert path.exists(), (run.returncode, run.stderr)
    return Trace.from_json(path.read_text(encoding="utf-8"))


def declared_flags(name: str) -> set[str]:
    """The flag codes a corpus script says `check` must raise on it (its `# flags:` line)."""
    found = re.search(r"^# flags:(.*)$", (CORPUS / f"{name}.py").read_text(encoding="utf-8"), re.M)
    return set(found.group(1).split()) if found else set()


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
def test_script_behaves_as_under_python(name: str) -> None:
    """stdout, stderr, exit status, uncaught exception and flags under check and trace are python's."""
    r = corpus_runs(name)
    found = {**_check_differences(r), **_trace_differences(r)}
    known = known_differences(name)
    new = {aspect: what for aspect, what in found.items() if aspect not in known}
    assert not new, f"{name} under tensorscope differs from python: {new}"
    gone = sorted(set(known) - set(found))
    assert not gone, f"{name}: fixed, remove from KNOWN: {gone}"
    if known:
        pytest.xfail("; ".join(f"{aspect}: {reason}" for aspect, reason in sorted(known.items())))
