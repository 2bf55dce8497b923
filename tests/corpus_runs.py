"""Runs of the tests/semantics/ corpus, shared by the semantics and stepping tests (and their xdist workers).

Each script runs three ways: `python SCRIPT` (a fresh interpreter: the reference), `python -m tensorscope
check --json SCRIPT` and `python -m tensorscope trace SCRIPT -o SCRIPT.trace.json`. The two tensorscope
commands run in children of a fork server (tests/corpus_runner.py) that imported torch once, so only the
reference pays an interpreter start and a torch import. Results are kept on disk in a folder shared by
pytest-xdist's workers, under a lock per script: whichever test needs a script first runs it, once per
test run, and the other test file reads the same runs.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from tensorscope.model import Trace

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "semantics"
RUNNER = Path(__file__).resolve().parent / "corpus_runner.py"
TIMEOUT = 180
COMMANDS = {
    "check": ["check", "--json", "{name}.py"],
    "trace": ["trace", "{name}.py", "-o", "{name}.trace.json"],
}


@dataclass(frozen=True)
class Run:
    """One finished command: its status and what it wrote, decoded as UTF-8 with newlines untouched."""

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
        return read_trace(self.trace, self.trace_file)


def read_trace(run: Run, path: Path) -> Trace:
    """The Trace in `path`, which `run` (a `trace -o`) wrote."""
    assert path.exists(), (run.returncode, run.stderr)
    return Trace.from_json(path.read_text(encoding="utf-8"))


def env() -> dict[str, str]:
    """The environment of every run: no warning options of ours, a fixed hash seed, one torch thread."""
    out = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONDEVMODE")}
    out["PYTHONHASHSEED"] = "0"
    out["OMP_NUM_THREADS"] = "1"
    out["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [out.get("PYTHONPATH")])])
    return out


def corpus_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the corpus copy and its runs: one per test run, shared by xdist's workers.

    A worker's temporary folder lies in the test run's (xdist names it after the worker), which pytest
    keeps for a few runs, then removes.
    """
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "semantics-corpus"
    folder.mkdir(exist_ok=True)
    scripts = folder / "scripts"
    with _locked(folder / "copy.lock"):
        if not (scripts / ".copied").exists():
            shutil.copytree(CORPUS, scripts, dirs_exist_ok=True)
            (scripts / ".copied").touch()
    return folder


class _locked:
    """An exclusive lock on a file, across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


class _Server:
    """This process's fork server (tests/corpus_runner.py), started on first use, stopped at exit."""

    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def run(cls, runs: list[dict[str, Any]]) -> list[int]:
        if cls.proc is None or cls.proc.poll() is not None:
            cls.proc = subprocess.Popen([sys.executable, str(RUNNER)], env=env(), cwd=REPO,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            atexit.register(cls.stop)
        assert cls.proc.stdin is not None and cls.proc.stdout is not None
        cls.proc.stdin.write((json.dumps({"runs": runs}) + "\n").encode())
        cls.proc.stdin.flush()
        answer = cls.proc.stdout.readline()
        assert answer, f"the corpus fork server died (status {cls.proc.poll()})"
        return list(json.loads(answer)["statuses"])

    @classmethod
    def stop(cls) -> None:
        proc, cls.proc = cls.proc, None
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _plain(name: str, scripts: Path) -> Run:
    done = subprocess.run([sys.executable, f"{name}.py"], cwd=scripts, env=env(), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TIMEOUT, check=False)
    return Run(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


def _tensorscope(name: str, scripts: Path, out: Path) -> dict[str, Run]:
    requests = [{"argv": [arg.format(name=name) for arg in argv], "cwd": str(scripts),
                 "stdout": str(out / f"{name}.{how}.out"), "stderr": str(out / f"{name}.{how}.err")}
                for how, argv in COMMANDS.items()]
    statuses = _Server.run(requests)
    return {how: Run(status, Path(req["stdout"]).read_bytes().decode(errors="replace"),
                     Path(req["stderr"]).read_bytes().decode(errors="replace"))
            for how, status, req in zip(COMMANDS, statuses, requests, strict=True)}


def corpus_runs(name: str, folder: Path) -> Runs:
    """SCRIPT run the three ways, once per test run (whichever test asks first runs it) in `folder`."""
    scripts, out = folder / "scripts", folder / "runs"
    out.mkdir(exist_ok=True)
    saved = out / f"{name}.json"
    with _locked(out / f"{name}.lock"):
        if not saved.exists():
            with ThreadPoolExecutor(max_workers=1) as pool:
                plain = pool.submit(_plain, name, scripts)
                done = _tensorscope(name, scripts, out)
                done["plain"] = plain.result()
            saved.write_text(json.dumps({how: asdict(run) for how, run in done.items()}), encoding="utf-8")
        done = {how: Run(**fields) for how, fields in json.loads(saved.read_text(encoding="utf-8")).items()}
    return Runs(name, done["plain"], done["check"], done["trace"], scripts / f"{name}.trace.json")


def corpus_trace(name: str, folder: Path) -> Trace:
    """The Trace `tensorscope trace SCRIPT -o` recorded."""
    return corpus_runs(name, folder).recorded()
