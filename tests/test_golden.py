"""Golden reports: `tensorscope trace` and `tensorscope check` on every scenario, compared with tests/golden/.

A change in a report's text is a reviewed change. After an intended one, regenerate and read the git diff:

    TENSORSCOPE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py

The commands run in-process (click's CliRunner): the same code path as the shell, without a torch import
per case.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from tensorscope.cli import EXIT_CLEAN, EXIT_FLAGGED, main
from tensorscope.engine import list_scenarios

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("TENSORSCOPE_UPDATE_GOLDEN") == "1"
CUDA = torch.cuda.is_available()
MAX_DIFF_LINES = 60


def _has_fixed(path: Path) -> bool:
    return '"--fixed" in sys.argv' in path.read_text(encoding="utf-8")


def _case(args: list[str], golden: str, needs_gpu: bool = False) -> Any:
    """One parametrized case, skipped on a machine with a GPU when the scenario behaves differently there."""
    marks = [pytest.mark.skipif(CUDA, reason="golden reports made without a GPU")] if needs_gpu else []
    return pytest.param(args, golden, marks=marks, id=golden)


def _cases() -> list[Any]:
    """(command line, golden file) for every scenario's trace and check, and the --fixed variants."""
    cases = []
    for path in list_scenarios():
        name = path.stem
        needs_gpu = name == "device_mismatch"  # without a GPU (or --simulate-cuda) it stops at .to("cuda")
        variants: list[tuple[str, list[str]]] = [("", [])]
        if needs_gpu:
            variants.append(("--simulate-cuda", ["--simulate-cuda"]))
        for suffix, opts in variants:
            commands = [("trace", [], ""), ("check", [], "")]
            if _has_fixed(path):
                commands.append(("check", ["--", "--fixed"], "--fixed"))
            for command, script_args, tail in commands:
                golden = f"{command}/{name}{suffix}{tail}.txt"
                cases.append(_case([command, *opts, name, *script_args], golden, needs_gpu))
    cases.append(_case(["check", "--lang", "zh", "forgot_zero_grad"], "check/forgot_zero_grad--lang-zh.txt"))
    return cases


def compare_with_golden(text: str, golden: Path, update: bool = UPDATE) -> None:
    """Assert `text` equals the golden file (or rewrite it when TENSORSCOPE_UPDATE_GOLDEN=1)."""
    shown = golden.relative_to(GOLDEN.parent) if golden.is_relative_to(GOLDEN) else golden.name
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        return
    if not golden.exists():
        pytest.fail(f"no golden file {shown}: create it with "
                    "TENSORSCOPE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py", pytrace=False)
    expected = golden.read_text(encoding="utf-8")
    if text == expected:
        return
    diff = list(difflib.unified_diff(expected.splitlines(), text.splitlines(), lineterm="",
                                     fromfile=str(shown), tofile="now"))
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
    pytest.fail("the report changed:\n" + "\n".join(diff) + "\nIf the change is intended, accept it with "
                "TENSORSCOPE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py", pytrace=False)


@pytest.mark.parametrize(("args", "golden"), _cases())
def test_report_matches_golden(args: list[str], golden: str) -> None:
    """The text a user reads from `tensorscope trace/check` is exactly the reviewed one."""
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code in (EXIT_CLEAN, EXIT_FLAGGED), result.stderr
    compare_with_golden(result.stdout, GOLDEN / golden)


def test_a_changed_report_fails_with_a_readable_diff(tmp_path: Path) -> None:
    """A report that differs from its golden file fails with a unified diff naming the changed lines."""
    golden = tmp_path / "golden.txt"
    golden.write_text("tensorscope check · x.py\n⚠ warning grad-accumulation\n0 errors\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception) as failure:
        compare_with_golden("tensorscope check · x.py\n⚠ warning grad-accumulation!\n0 errors\n", golden,
                            update=False)
    message = str(failure.value)
    assert "-⚠ warning grad-accumulation\n+⚠ warning grad-accumulation!" in message
    assert "TENSORSCOPE_UPDATE_GOLDEN=1" in message
