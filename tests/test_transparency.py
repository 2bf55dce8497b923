"""A script under tensorscope prints, computes and raises exactly what it does under plain python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tensorscope.checks import default_checks
from tensorscope.engine import Session, list_scenarios

REPO = Path(__file__).resolve().parent.parent


def _cases() -> list[tuple[Path, tuple[str, ...]]]:
    cases = []
    for path in list_scenarios():
        cases.append((path, ()))
        if "--fixed" in path.read_text(encoding="utf-8"):
            cases.append((path, ("--fixed",)))
    return cases


def _id(value: object) -> str:
    return value.stem if isinstance(value, Path) else " ".join(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "args"), _cases(), ids=_id)
def test_scenario_output_equals_plain_python(path: Path, args: tuple[str, ...]) -> None:
    plain = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True,
                           cwd=REPO, timeout=120)
    session = Session(str(path), list(args), monitors=default_checks())
    trace = session.record()
    assert session.internal_errors == []
    assert trace.stdout == plain.stdout
    if plain.returncode == 0:
        assert trace.completed, trace.exception
    else:
        assert trace.exception is not None
        last = plain.stderr.strip().splitlines()[-1]
        assert last == f"{trace.exception.type}: {trace.exception.message}".strip().splitlines()[-1]
