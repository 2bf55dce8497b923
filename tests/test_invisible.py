"""Nothing of tensorscope is visible to the script: PyTorch's functions, warnings and the user's properties
are exactly as under plain python, with and without simulated CUDA."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tensorscope.checks import default_checks
from tensorscope.engine import Session

Write = Callable[..., Path]
REPO = Path(__file__).resolve().parent.parent

FACTS = """
    import builtins
    import importlib
    import warnings

    import torch
    import torch.nn.functional as F
    from torch import nn


    def name(obj):
        code = getattr(obj, "__code__", None)
        where = code.co_filename.rsplit("site-packages/", 1)[-1] if code is not None else "-"
        what = f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', '?')}"
        return f"{what} {type(obj).__name__} {where}"


    def facts(when):
        print(f"[{when}]")
        print("Module.__call__ is _wrapped_call_impl:", nn.Module.__call__ is nn.Module._wrapped_call_impl)
        for label, obj in [
            ("autograd.backward", torch.autograd.backward), ("autograd.grad", torch.autograd.grad),
            ("Tensor.backward", torch.Tensor.backward),
            ("F.mse_loss", F.mse_loss), ("F.cross_entropy", F.cross_entropy), ("F.l1_loss", F.l1_loss),
            ("SGD.step", torch.optim.SGD.step), ("SGD.zero_grad", torch.optim.SGD.zero_grad),
            ("Adam.step", torch.optim.Adam.step), ("Optimizer.zero_grad", torch.optim.Optimizer.zero_grad),
            ("builtins.__import__", builtins.__import__),
            ("importlib.import_module", importlib.import_module),
            ("warnings.showwarning", warnings.showwarning), ("warnings.warn", warnings.warn),
        ]:
            print(f"{label}: {name(obj)}")
        for op in ("__sub__", "__add__", "__iadd__", "__matmul__", "__mul__", "__truediv__", "__getitem__"):
            value = getattr(torch.Tensor, op)
            print(f"Tensor.{op}: own={op in torch.Tensor.__dict__} {name(value)}"
                  f" base={value is getattr(torch._C.TensorBase, op, None)}")
        print("SGD.step hooked:", getattr(torch.optim.SGD.step, "hooked", False))


    facts("start")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for step in range(2):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    facts("after training")
"""

EXITS = """
    import os
    import signal
    print("os._exit:", os._exit.__module__, os._exit.__qualname__, type(os._exit).__name__)
    handler = signal.signal
    print("signal.signal:", handler.__module__, handler.__qualname__, type(handler).__name__)
"""


def plain(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=REPO, timeout=120)


_FACTS_UNDER_PYTHON: list[subprocess.CompletedProcess[str]] = []


def facts_under_python(path: Path) -> subprocess.CompletedProcess[str]:
    """`python FACTS`, run once in this process (what it prints names no path): the two tests of FACTS, one
    xdist group, share the run."""
    if not _FACTS_UNDER_PYTHON:
        _FACTS_UNDER_PYTHON.append(plain(path))
    return _FACTS_UNDER_PYTHON[0]


def checked_stdout(path: Path, *options: str) -> str:
    """The script's stdout under `python -m tensorscope check --json`."""
    proc = subprocess.run([sys.executable, "-m", "tensorscope", "check", "--json", *options, str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=180)
    assert proc.returncode in (0, 1), proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["completed"], payload
    return str(payload["stdout"])


@pytest.mark.xdist_group("invisible-facts")
@pytest.mark.parametrize("options", [(), ("--simulate-cuda",)], ids=["cpu", "simulate-cuda"])
def test_pytorch_looks_untouched(write_script: Write, options: tuple[str, ...]) -> None:
    path = write_script(FACTS)
    expected = facts_under_python(path)
    assert expected.returncode == 0, expected.stderr
    out = expected.stdout
    assert "Module.__call__ is _wrapped_call_impl: True" in out
    assert "autograd.backward: torch.autograd.backward function torch/autograd/__init__.py" in out
    assert "F.mse_loss: torch.nn.functional.mse_loss function torch/nn/functional.py" in out
    assert "tensorscope" not in out
    assert checked_stdout(path, *options) == out


def test_exit_and_signal_look_untouched(write_script: Write) -> None:
    path = write_script(EXITS)
    expected = plain(path)
    assert "posix" in expected.stdout or "nt" in expected.stdout
    assert checked_stdout(path) == expected.stdout


SESSION = """
import json, sys
from tensorscope.checks import default_checks
from tensorscope.engine import Session
session = Session(sys.argv[1], monitors=default_checks(), simulate_cuda=sys.argv[2] == "1")
trace = session.run(timeout=120)
print(json.dumps({"stdout": trace.stdout, "stderr": trace.stderr, "errors": session.internal_errors,
                  "flags": sorted({f.code for f in trace.flags})}))
"""


def session_run(path: Path, simulate_cuda: bool) -> dict[str, object]:
    """A Session's run of `path` in a fresh process (warnings filters as python starts them)."""
    proc = subprocess.run([sys.executable, "-c", SESSION, str(path), "1" if simulate_cuda else "0"],
                          capture_output=True, text=True, cwd=REPO, timeout=180)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_warnings_inside_torch_ops_keep_the_users_line(write_script: Write) -> None:
    path = write_script("""
        import torch
        import torch.nn.functional as F
        pred = torch.zeros(3, 1)
        loss = F.mse_loss(pred, torch.zeros(3))
        col, vec = torch.zeros(3, 1), torch.tensor([1.0, 2.0, 3.0])
        diff = col - torch.tensor(vec)
        w = torch.ones(3, 1, requires_grad=True)
        (w * 2).sum().backward()
        print(loss.item(), diff.shape)
    """)
    expected = plain(path)
    assert f"{path}:4: UserWarning: Using a target size" in expected.stderr
    assert f"{path}:6: UserWarning: To copy construct" in expected.stderr
    for simulate_cuda in (False, True):
        run = session_run(path, simulate_cuda)
        assert run["errors"] == []
        assert (run["stdout"], run["stderr"]) == (expected.stdout, expected.stderr)
        assert run["flags"] == ["broadcast-expand"]


def test_the_users_properties_and_getattr_run_as_often_as_under_python(write_script: Write) -> None:
    path = write_script("""
        import torch

        calls = {"prop": 0, "getattr": 0, "grad": 0}


        class Holder:
            def __init__(self):
                self._t = torch.ones(3, 1, requires_grad=True)
                self.v = torch.ones(3)

            @property
            def t(self):
                calls["prop"] += 1
                return self._t

            def __getattr__(self, name):
                calls["getattr"] += 1
                if name == "extra":
                    return torch.zeros(3)
                raise AttributeError(name)


        class Grads:
            def __init__(self, w):
                self._w = w

            @property
            def grad(self):
                calls["grad"] += 1
                return self._w.grad


        obj = Holder()
        g = Grads(obj._t)
        for step in range(3):
            loss = ((obj.t - obj.v) ** 2).sum()
            loss.backward()
            d = obj.t - obj.extra
            total = obj.t.grad.sum() + g.grad.sum()
            with torch.no_grad():
                obj.t.sub_(0.1 * obj.t.grad)
            obj.t.grad.zero_()
        print(calls, float(total))
    """)
    expected = plain(path)
    assert expected.returncode == 0, expected.stderr
    assert "'prop': 18" in expected.stdout
    for simulate_cuda in (False, True):
        session = Session(str(path), monitors=default_checks(), simulate_cuda=simulate_cuda)
        trace = session.run(timeout=120)
        assert session.internal_errors == []
        assert trace.stdout == expected.stdout
        assert "broadcast-expand" in {f.code for f in trace.flags}
