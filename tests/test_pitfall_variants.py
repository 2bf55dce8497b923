"""Harder variants of each classic pitfall (tests/pitfalls/): each flagged with its code at its line.

Every script in tests/pitfalls/ starts with a one-line docstring and marks what `check` must flag: a line
ending in `# <- CODE [CODE ...]` must carry a flag of each CODE, and no other line may carry a warning or
an error (info flags are free); a `clean_*.py` script marks nothing (a guard against false flags). A line
`# args: ARG ...` gives `check` extra options (`--simulate-cuda`). Each script runs under `check --json`
(the loops' passes sampled after the 20th); a script with a loop of more than 20 passes (`range(N)`, N > 20)
also runs under `check --json --every-pass` (with shorter loops the two observe the same passes, and each
run costs an engine fork server's start, about two seconds of CPU). The runs are children of the semantics
corpus's fork server (tests/corpus_runner.py), made once per test run and shared by pytest-xdist's workers.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from corpus_runs import _locked, _Server

pytestmark = [pytest.mark.corpus, pytest.mark.xdist_group("pitfall-variants")]
"""(CI runs the corpora on 3.11 and 3.12; 3.13 has the same sys.monitoring backend as 3.12. One xdist
group: no worker waits on the runs' lock while the other makes them.)"""

FOLDER = Path(__file__).resolve().parent / "pitfalls"
SCRIPTS = sorted(p.stem for p in FOLDER.glob("*.py"))
MODES = {"sampled": [], "every-pass": ["--every-pass"]}
_LONG_LOOP = re.compile(r"\brange\((\d+)\)")


def sampled_past_20(name: str) -> bool:
    """Whether the script has a loop of more than 20 passes, where `check` samples them."""
    text = (FOLDER / f"{name}.py").read_text(encoding="utf-8")
    return any(int(n) > 20 for n in _LONG_LOOP.findall(text))


CASES = [(name, mode) for name in SCRIPTS for mode in MODES if mode == "sampled" or sampled_past_20(name)]
BATCH = 12
"""Runs forked at once (the fork server waits for a whole batch)."""
XFAIL: dict[str, str] = {}
"""Variants not flagged right yet: script name -> why."""

_MARK = re.compile(r"#\s*<-\s*((?:[a-z][a-z-]*[a-z]\s*)+)")


def expected(name: str) -> tuple[list[str], set[tuple[str, int]]]:
    """The script's extra `check` options and the (code, line) pairs its markers ask for."""
    args: list[str] = []
    wanted: set[tuple[str, int]] = set()
    for number, text in enumerate((FOLDER / f"{name}.py").read_text(encoding="utf-8").splitlines(), 1):
        if text.startswith("# args:"):
            args += text.removeprefix("# args:").split()
        m = _MARK.search(text)
        if m:
            wanted |= {(code, number) for code in m.group(1).split()}
    return args, wanted


def _read(path: str) -> str:
    """A run's output file, decoded as UTF-8."""
    return Path(path).read_bytes().decode(errors="replace")


def _run_all(out: Path) -> dict[str, Any]:
    requests = []
    for name, mode in CASES:
        argv = ["check", "--json", *MODES[mode], *expected(name)[0], f"{name}.py"]
        requests.append({"argv": argv, "cwd": str(FOLDER), "stdout": str(out / f"{name}.{mode}.out"),
                         "stderr": str(out / f"{name}.{mode}.err"), "key": f"{name}:{mode}"})
    results: dict[str, Any] = {}
    for start in range(0, len(requests), BATCH):
        batch = requests[start:start + BATCH]
        statuses = _Server.run([{k: v for k, v in r.items() if k != "key"} for r in batch])
        for req, status in zip(batch, statuses, strict=True):
            results[req["key"]] = {"status": status, "stdout": _read(req["stdout"]),
                                   "stderr": _read(req["stderr"])}
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every script under every mode, run once per test run (whichever xdist worker asks first)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "pitfall-variants"
    folder.mkdir(exist_ok=True)
    saved = folder / "runs.json"
    with _locked(folder / "runs.lock"):
        if not saved.exists():
            saved.write_text(json.dumps(_run_all(folder)), encoding="utf-8")
    return dict(json.loads(saved.read_text(encoding="utf-8")))


def test_every_script_marks_something() -> None:
    for name in SCRIPTS:
        text = (FOLDER / f"{name}.py").read_text(encoding="utf-8")
        assert text.startswith('"""') and text.splitlines()[0].endswith('"""'), name
        if name.startswith("clean_"):  # a guard: flags nothing
            assert not expected(name)[1], f"{name}.py is clean but marks a line"
        else:
            assert expected(name)[1], f"{name}.py marks no line with `# <- CODE`"


def test_markers_are_parsed() -> None:
    assert _MARK.search("loss_fn = lambda p, t: p - t  # <- broadcast-expand # noqa: E731").group(1).split() \
        == ["broadcast-expand"]
    assert _MARK.search("x += 1  # <- nan-inf inplace-leaf").group(1).split() == ["nan-inf", "inplace-leaf"]


@pytest.mark.parametrize(("name", "mode"), [
    pytest.param(n, m, marks=pytest.mark.xfail(strict=True, reason=XFAIL[n])) if n in XFAIL else (n, m)
    for n, m in CASES])
def test_variant_flagged_at_its_line(runs: dict[str, Any], name: str, mode: str) -> None:
    run = runs[f"{name}:{mode}"]
    assert run["status"] in (0, 1), run["stderr"]
    report = json.loads(run["stdout"])
    _, wanted = expected(name)
    flags = report["flags"]
    got = {(f["code"], f["line"]) for f in flags}
    missing = wanted - got
    assert not missing, f"not flagged: {sorted(missing)}; flagged: {sorted(got)}"
    unexpected = {(f["code"], f["line"], f["severity"]) for f in flags
                  if f["severity"] != "info" and (f["code"], f["line"]) not in wanted}
    assert not unexpected, f"flagged but not expected: {sorted(unexpected)}"
