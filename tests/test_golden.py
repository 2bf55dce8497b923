"""Golden reports: `tensorscope trace` and `tensorscope check` on every scenario, compared with tests/golden/.

A change in a report's text is a reviewed change. After an intended one, regenerate and read the git diff:

    TENSORSCOPE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py

The commands run in-process (click's CliRunner): the same code path as the shell, without a torch import
per case.
"""

from __future__ import annotations

import difflib
import math
import os
import re
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
CUDA_BUILD = torch.version.cuda is not None
"""A CUDA build of torch on a machine without a GPU says "Found no NVIDIA driver" where the CPU build says
"Torch not compiled with CUDA enabled": the reports of a script that asks for CUDA have one golden each."""
MAX_DIFF_LINES = 60
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
REL_TOL = 2e-3
"""float32 results differ in their last digit between CPUs (AVX-512 or not): numbers with a fraction or an
exponent compare within this relative tolerance; integers (steps, lines, shapes) compare exactly."""


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
                build = ".cuda-build" if needs_gpu and not opts and CUDA_BUILD else ""
                golden = f"{command}/{name}{suffix}{tail}{build}.txt"
                cases.append(_case([command, *opts, name, *script_args], golden, needs_gpu))
    cases.append(_case(["check", "--lang", "zh", "forgot_zero_grad"], "check/forgot_zero_grad--lang-zh.txt"))
    return cases


def _numbers_close(a: str, b: str) -> bool:
    if a == b:
        return True
    if not any(c in a + b for c in ".eE"):  # integers: exact
        return False
    x, y = float(a), float(b)
    return math.isclose(x, y, rel_tol=REL_TOL, abs_tol=1e-9)


def same_report(expected: str, text: str) -> bool:
    """Equal text, except that non-integer numbers may differ within REL_TOL."""
    if expected == text:
        return True
    old, new = expected.splitlines(), text.splitlines()
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        if a == b:
            continue
        if NUMBER.sub("#", a) != NUMBER.sub("#", b):
            return False
        if not all(_numbers_close(x, y) for x, y in zip(NUMBER.findall(a), NUMBER.findall(b), strict=True)):
            return False
    return True


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
    if same_report(expected, text):
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


def test_float_digits_that_differ_between_cpus_are_tolerated() -> None:
    """A float32 gradient's last digit may differ between machines; a changed integer or word may not."""
    golden = "[  12] ran line  28: w.grad → [[-0.1402, 0.0001196]]\n"
    assert same_report(golden, "[  12] ran line  28: w.grad → [[-0.1402, 0.0001195]]\n")
    assert not same_report(golden, "[  12] ran line  29: w.grad → [[-0.1402, 0.0001196]]\n")
    assert not same_report(golden, "[  12] ran line  28: w.grad → [[-0.1402, 0.0002196]]\n")
    assert not same_report(golden, "[  12] ran line  28: b.grad → [[-0.1402, 0.0001196]]\n")
