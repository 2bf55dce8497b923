"""Generated training scripts through `check`: tensorscope never crashes and changes nothing the script does.

Hypothesis writes small scripts from a tiny fixed model (forward, loss, backward, zero_grad, manual update
under no_grad, optimizer step, in-place ops on intermediates, prints), in random orders, some inside a loop.
Each runs under tensorscope's `check` (in this process, as the CLI does, and for a few through the real
command) and under plain python, and stdout and the exception type must be the same.

Plain python here is a helper process that has imported torch once and forks a fresh child per script,
which runs it as `__main__` (a new interpreter per script would cost seconds each); the CLI cases compare
against a real `python script.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from forked_python import forked_python
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tensorscope.checks import default_checks
from tensorscope.cli import _exit_code
from tensorscope.engine import Session

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(REPO)}

PRELUDE = """\
import torch
from torch import nn

torch.manual_seed({seed})
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(4, 3)
y = torch.randn(4, 1)
out = model(x)
loss = ((out - y) ** 2).mean()
"""

OPS: dict[str, str] = {
    "forward": "out = model(x)",
    "forward with sigmoid": "out = model(x).sigmoid()",
    "loss": "loss = ((out - y) ** 2).mean()",
    "backward": "loss.backward()",
    "backward, graph kept": "loss.backward(retain_graph=True)",
    "zero_grad": "opt.zero_grad()",
    "manual update": """\
with torch.no_grad():
    for p in model.parameters():
        if p.grad is not None:
            p -= 0.05 * p.grad""",
    "optimizer step": "opt.step()",
    "in-place on an intermediate": "out.mul_(0.5)",
    "in-place add on an intermediate": "out += 1",
    "in-place on a parameter": "model.weight.add_(1.0)",
    "detach the loss": "loss = loss.detach()",
    "print the loss": "print(f'loss {loss.item():.6f}')",
    "print a grad": "print(model.weight.grad)",
    "print a value": "print(model.bias.data.tolist(), out.shape)",
}

def script_of(ops: list[str], loop: bool = False, seed: int = 0) -> str:
    """The prelude, then the operations (inside `for step in range(2)` when `loop`), then a last print."""
    body = "\n".join(OPS[op] for op in ops)
    if loop:
        body = "for step in range(2):\n" + textwrap.indent(body, "    ")
    return PRELUDE.format(seed=seed) + body + "\nprint('end', round(loss.item(), 6))\n"


@st.composite
def training_scripts(draw: st.DrawFn) -> str:
    """A small training script: 1-10 operations in any order, maybe in a loop, with a random seed."""
    seed = draw(st.integers(min_value=0, max_value=10_000))
    ops = draw(st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=10))
    return script_of(ops, loop=draw(st.booleans()), seed=seed)


_counter = iter(range(1_000_000))


def write(folder: Path, source: str) -> Path:
    path = folder / f"gen_{next(_counter)}.py"
    path.write_text(source, encoding="utf-8")
    return path


class TestGeneratedScripts:
    """`check` on generated training scripts: no crash, and the same output and exception as python."""

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(source=training_scripts())
    def test_check_matches_plain_python(self, source, tmp_path_factory):
        """Same stdout and exception type as python; exit code 0 or 1; no error inside tensorscope."""
        path = write(tmp_path_factory.mktemp("fuzz"), source)
        plain = forked_python(path)
        expected_out, expected_exc = plain.stdout, plain.exception
        session = Session(str(path), monitors=default_checks(), keep_steps=False)
        trace = session.run(timeout=60)
        assert not session.internal_errors, (session.internal_errors, source)
        assert trace.end_reason in ("finished", "exception"), (trace.end_reason, source)
        assert trace.stdout == expected_out, source
        got_exc = trace.exception.type if trace.exception is not None else ""
        assert got_exc == expected_exc, (trace.exception, source)
        assert _exit_code(trace) in (0, 1)
        if expected_exc:
            assert _exit_code(trace) == 1

    @settings(max_examples=1, deadline=None, phases=[Phase.explicit],
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(source=training_scripts())
    @example(source=script_of(["forward", "loss", "backward", "print the loss", "manual update", "zero_grad",
                               "print a grad", "in-place add on an intermediate", "backward"], loop=True))
    def test_real_command_matches_real_python(self, source, tmp_path_factory):
        """`python -m tensorscope check --json` against `python script.py`, both real processes (one
        script: a process costs seconds)."""
        path = write(tmp_path_factory.mktemp("fuzz-cli"), source)
        real = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=ENV,
                              stdin=subprocess.DEVNULL, timeout=120)
        proc = subprocess.run([sys.executable, "-m", "tensorscope", "check", str(path), "--json"],
                              capture_output=True, text=True, env=ENV, cwd=REPO, stdin=subprocess.DEVNULL,
                              timeout=120)
        assert proc.returncode in (0, 1), proc.stderr
        assert "Traceback" not in proc.stderr
        payload = json.loads(proc.stdout)
        assert payload["stdout"] == real.stdout
        if real.returncode:
            assert proc.returncode == 1 and payload["exception"] is not None
            assert real.stderr.rstrip().splitlines()[-1].startswith(payload["exception"]["type"])
        else:
            assert payload["exception"] is None

    def test_the_generator_reaches_both_endings(self, tmp_path):
        """The operations can both finish and raise (so the comparison covers exceptions too)."""
        ok = script_of(["backward", "optimizer step"])
        bad = script_of(["in-place on a parameter"])
        assert forked_python(write(tmp_path, ok)).exception == ""
        assert forked_python(write(tmp_path, bad)).exception == "RuntimeError"
