"""The teaching scenarios do what their docstrings promise under plain `python`.

Clean scenarios and every `--fixed` variant run to the end without a word on stderr; each pitfall
fails with PyTorch's own error at the line its docstring names, or (for the silent ones) runs to the
end while the bug shows in its output. Every scenario runs in a process of its own (a forked child, see
below).
"""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from forked_python import forked_python

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
pytestmark = pytest.mark.xdist_group("scenarios")
"""One xdist group: the module's runs (_run_everything) are made once, by one worker."""

CLEAN = [
    "tensor_basics",
    "autograd_basics",
    "nonscalar_backward",
    "linreg",
    "mlp_optim",
    "grad_accumulation_microbatch",
]
# pitfall -> the text of the error PyTorch raises in the buggy version
RAISING = {
    "inplace_breaks_graph": "one of the variables needed for gradient computation has been modified "
                            "by an inplace operation",
    "update_without_no_grad": "a leaf Variable that requires grad is being used in an in-place operation.",
    "nonscalar_backward_error": "grad can be implicitly created only for scalar outputs",
    "backward_twice": "Trying to backward through the graph a second time",
    "float64_into_model": "mat1 and mat2 must have the same dtype",
    "shape_mismatch": "mat1 and mat2 shapes cannot be multiplied (8x3 and 4x16)",
}
SILENT = ["forgot_zero_grad", "broadcast_loss", "running_loss_without_item", "lr_diverges"]
PITFALLS = [*RAISING, *SILENT, "device_mismatch"]
# the flag code each pitfall teaches (README: "Flag codes"); its docstring must name it
FLAG_CODES = {
    "forgot_zero_grad": "grad-accumulation",
    "device_mismatch": "device-mismatch",
    "inplace_breaks_graph": "inplace-saved-tensor",
    "update_without_no_grad": "inplace-leaf",
    "nonscalar_backward_error": "nonscalar-backward",
    "backward_twice": "backward-twice",
    "float64_into_model": "dtype-mismatch",
    "shape_mismatch": "shape-mismatch",
    "broadcast_loss": "broadcast-expand",
    "running_loss_without_item": "graph-retained",
    "lr_diverges": "nan-inf",
}
CUDA = torch.cuda.is_available()
# device_mismatch needs CUDA: without a GPU its --fixed variant fails just like the buggy one
FIXED_RUNS_CLEAN = [p for p in PITFALLS if p != "device_mismatch" or CUDA]

# Importing torch takes seconds, so the scenarios run in children forked from one `python` that has paid
# for it once (tests/forked_python.py): each child runs its script as `python SCRIPT ARGS...` would.
# test_forked_runs_match_plain_python checks that against real `python` processes, on these scenarios too.
JOBS = [(name,) for name in [*CLEAN, *PITFALLS]] + [(name, "--fixed") for name in PITFALLS]
PLAIN = [("linreg",), ("mlp_optim",), ("update_without_no_grad",)]
_results: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}


def plain_python(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python scenarios/NAME.py ARGS...` from the repository root."""
    cmd = [sys.executable, str(SCENARIOS / f"{name}.py"), *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", autouse=True)
def _run_everything() -> None:
    """Run every scenario and every --fixed variant once, plus a few in plain python processes."""
    with ThreadPoolExecutor(max_workers=len(PLAIN)) as pool:
        plain = {job: pool.submit(plain_python, *job) for job in PLAIN}
        for job in JOBS:
            done = forked_python(SCENARIOS / f"{job[0]}.py", *job[1:], cwd=REPO) if hasattr(os, "fork") \
                else plain_python(*job)
            _results[job] = subprocess.CompletedProcess(list(job), done.returncode, done.stdout, done.stderr)
        for job, future in plain.items():
            _results[("plain", *job)] = future.result()


def run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The finished run of scenario NAME with ARGS."""
    return _results[(name, *args)]


def docstring(name: str) -> str:
    return ast.get_docstring(ast.parse((SCENARIOS / f"{name}.py").read_text(encoding="utf-8"))) or ""


def line_references(name: str) -> dict[int, str]:
    """The `line N (`code`)` references in a scenario's docstring: line number -> code quoted."""
    text = docstring(name).replace("\n", " ")
    return {int(n): code for n, code in re.findall(r"(?i)line (\d+) \(`([^`]+)`\)", text)}


def raising_line(name: str, stderr: str) -> int:
    """The line of the scenario where the uncaught exception left the user's code."""
    lines = re.findall(rf'File ".*{re.escape(name)}\.py", line (\d+)', stderr)
    assert lines, stderr
    return int(lines[-1])


def test_every_scenario_is_covered_here() -> None:
    on_disk = {p.stem for p in SCENARIOS.glob("*.py") if not p.name.startswith("_")}
    assert on_disk == {*CLEAN, *PITFALLS}


@pytest.mark.parametrize("name", [*CLEAN, *PITFALLS])
def test_docstring_describes_the_scenario(name: str) -> None:
    doc = docstring(name)
    first, _, rest = doc.partition("\n")
    assert first.strip() and "Watch in tensorscope" in rest
    source = (SCENARIOS / f"{name}.py").read_text(encoding="utf-8").splitlines()
    refs = line_references(name)
    assert refs, "the docstring should point at the lines to watch"
    for number, code in refs.items():
        assert code in source[number - 1], f"line {number} of {name}.py is not `{code}`"
    if name in PITFALLS:
        assert f"`{FLAG_CODES[name]}`" in doc
        assert "--fixed" in doc and 'FIXED = "--fixed" in sys.argv' in source


@pytest.mark.parametrize("name", CLEAN)
def test_clean_scenario_runs_to_the_end(name: str) -> None:
    result = run(name)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip()


@pytest.mark.parametrize("name", FIXED_RUNS_CLEAN)
def test_fixed_variant_runs_to_the_end(name: str) -> None:
    result = run(name, "--fixed")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip()


@pytest.mark.parametrize("name", list(RAISING))
def test_pitfall_raises_pytorch_error_at_the_line_named(name: str) -> None:
    result = run(name)
    assert result.returncode == 1
    assert RAISING[name] in result.stderr
    assert raising_line(name, result.stderr) in line_references(name)


def test_device_mismatch_needs_cuda() -> None:
    buggy, fixed = run("device_mismatch"), run("device_mismatch", "--fixed")
    if CUDA:
        assert buggy.returncode == 1
        assert "Expected all tensors to be on the same device" in buggy.stderr
        assert raising_line("device_mismatch", buggy.stderr) in line_references("device_mismatch")
        assert fixed.returncode == 0, fixed.stderr
        assert "cuda" in fixed.stdout
    else:
        for result in (buggy, fixed):
            assert result.returncode == 1
            if not torch.backends.cuda.is_built():
                assert "AssertionError: Torch not compiled with CUDA enabled" in result.stderr
            assert raising_line("device_mismatch", result.stderr) in line_references("device_mismatch")


def losses(stdout: str) -> list[float]:
    """The loss values a scenario printed ("Loss: 0.1234", "Average loss: 4.4220")."""
    return [float(v) for v in re.findall(r"(?i)loss: ([^\s,]+)", stdout)]


def test_linreg_loss_falls_every_epoch() -> None:
    result = run("linreg")
    values = losses(result.stdout)
    assert len(values) == 5 and "Epoch 5, Loss:" in result.stdout
    assert all(later < earlier for earlier, later in zip(values, values[1:], strict=False))


def test_forgot_zero_grad_overshoots_where_the_fix_converges() -> None:
    buggy, fixed = losses(run("forgot_zero_grad").stdout), losses(run("forgot_zero_grad", "--fixed").stdout)
    assert buggy[0] == fixed[0]
    assert fixed[-1] < 0.1 < buggy[-1]
    assert any(later > earlier for earlier, later in zip(buggy, buggy[1:], strict=False))


def test_broadcast_loss_makes_an_n_by_n_difference() -> None:
    buggy, fixed = run("broadcast_loss").stdout, run("broadcast_loss", "--fixed").stdout
    assert "(8, 8)" in buggy and "(8, 8)" not in fixed
    assert losses(fixed)[-1] < losses(buggy)[-1]


def test_running_loss_without_item_keeps_a_tensor() -> None:
    buggy, fixed = run("running_loss_without_item").stdout, run("running_loss_without_item", "--fixed").stdout
    assert "running_loss is a Tensor" in buggy and "running_loss is a float" in fixed
    assert len(losses(buggy)) == 1 and losses(buggy) == losses(fixed)


def test_lr_diverges_to_inf_then_nan() -> None:
    buggy, fixed = run("lr_diverges").stdout, run("lr_diverges", "--fixed").stdout
    values = losses(buggy)
    assert len(values) <= 20 and any(math.isinf(v) for v in values) and math.isnan(values[-1])
    assert all(math.isfinite(v) for v in losses(fixed)) and losses(fixed)[-1] < losses(fixed)[0]


@pytest.mark.parametrize("job", PLAIN)
def test_forked_runs_match_plain_python(job: tuple[str, ...]) -> None:
    """Also shows the output is deterministic: two processes, the same text."""
    forked, plain = run(*job), run("plain", *job)
    assert forked.returncode == plain.returncode
    assert forked.stdout == plain.stdout
    assert forked.stderr.splitlines()[-1:] == plain.stderr.splitlines()[-1:]


def test_tensorscope_list_shows_every_scenario(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tensorscope", "list"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1] for line in result.stdout.splitlines()}
    for name in [*CLEAN, *PITFALLS]:
        assert rows.get(name) == docstring(name).splitlines()[0]
