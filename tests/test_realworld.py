"""Real-world training scripts (tests/realworld/: tutorials, d2l, nanoGPT-style code) are clean under `check`.

Each script runs under plain python and under `python -m tensorscope check --json` (in a child of the
corpus fork server, tests/corpus_runner.py). `check` must raise no flag, or exactly the codes a script
declares in a `# flags: CODE ...` line (an info it deserves, said why there); the script's stdout and exit
status must be python's. Object addresses (`<AddBackward0 object at 0x...>`) differ between any two runs
and are compared as `0x?`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from corpus_runs import TIMEOUT, Run, _Server, env

pytestmark = [pytest.mark.corpus, pytest.mark.xdist_group("realworld")]
"""(CI runs the corpora on 3.11 and 3.12; 3.13 has the same sys.monitoring backend as 3.12. One xdist
group: the module's runs are made once, by one worker, while the other runs other tests.)"""

FOLDER = Path(__file__).resolve().parent / "realworld"
SCRIPTS = sorted(p.stem for p in FOLDER.glob("*.py"))
_ADDRESS = re.compile(r"0x[0-9a-f]+")


def declared(name: str) -> set[str]:
    """The flag codes the script's `# flags:` line declares (the text after two spaces is a comment)."""
    found = re.search(r"^# flags:(.*)$", (FOLDER / f"{name}.py").read_text(encoding="utf-8"), re.M)
    return set(found.group(1).split("  (")[0].split()) if found else set()


def _plain(name: str) -> Run:
    done = subprocess.run([sys.executable, f"{name}.py"], cwd=FOLDER, env=env(), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TIMEOUT, check=False)
    return Run(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, Run]]:
    """Every script: (plain python, `check --json`), all run once for this module."""
    out = tmp_path_factory.mktemp("realworld")
    requests = [{"argv": ["check", "--json", f"{name}.py"], "cwd": str(FOLDER),
                 "stdout": str(out / f"{name}.out"), "stderr": str(out / f"{name}.err")} for name in SCRIPTS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        plain = list(pool.map(_plain, SCRIPTS))
        statuses = _Server.run(requests)
    checked = [Run(status, Path(req["stdout"]).read_text(encoding="utf-8", errors="replace"),
                   Path(req["stderr"]).read_text(encoding="utf-8", errors="replace"))
               for status, req in zip(statuses, requests, strict=True)]
    return {name: (p, c) for name, p, c in zip(SCRIPTS, plain, checked, strict=True)}


def test_the_corpus_is_there() -> None:
    assert len(SCRIPTS) >= 12
    assert all((FOLDER / f"{name}.py").read_text(encoding="utf-8").startswith('"""') for name in SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_real_world_script_is_clean_and_unchanged(runs: dict[str, tuple[Run, Run]], name: str) -> None:
    plain, check = runs[name]
    assert plain.returncode == 0, plain.stderr
    assert check.returncode != 2, check.stderr  # an error inside tensorscope
    data: dict[str, Any] = json.loads(check.stdout)
    flags = data["flags"]
    assert {f["code"] for f in flags} == declared(name), [f["message"] for f in flags]
    assert all(f["severity"] == "info" for f in flags if f["code"] in declared(name))
    assert _ADDRESS.sub("0x?", data["stdout"]) == _ADDRESS.sub("0x?", plain.stdout)
    assert data["completed"] and data["exception"] is None and data["exit_code"] in (None, 0)
    assert check.returncode == 0  # info flags only: check passes
