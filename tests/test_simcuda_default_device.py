"""Simulated CUDA and device messages: the default device (`torch.set_default_device`, `with torch.device`),
`cuda-unavailable` naming the script's own names and file, `device-mismatch` saying where a tensor came from.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from tensorscope.checks import default_checks
from tensorscope.engine import Session
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag, Trace

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="simulation is for machines without a GPU")

GENERATOR = "Expected a 'cuda' device type for generator but found 'cpu'"


def run(tmp_path: Path, code: str, *, simulate: bool = True, name: str = "train_model.py") -> Trace:
    """Run `code` as a script with every check on; tensorscope itself must not fail."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    session = Session(str(path), monitors=default_checks(), simulate_cuda=simulate)
    trace = session.run(timeout=120)
    assert session.internal_errors == []
    return trace


@pytest.fixture(autouse=True)
def _default_device_back() -> object:
    """A script run without the simulation (in this thread) may leave its default device set."""
    yield
    torch.set_default_device(None)


def plain_default_cuda_error() -> tuple[str, str]:
    """What this PyTorch raises, without the simulation, for a module made with the default device cuda."""
    torch.set_default_device("cuda")
    try:
        torch.nn.Linear(3, 1)
    except Exception as exc:  # a CPU-only build or a machine without a driver: each has its own words
        return type(exc).__name__, str(exc)
    finally:
        torch.set_default_device(None)
    raise AssertionError("CUDA works here")


def out(trace: Trace) -> list[str]:
    assert trace.exception is None, trace.exception
    return trace.stdout.splitlines()


def only_flag(trace: Trace, code: str) -> Flag:
    serious = [f for f in trace.flags if f.severity in ("error", "warning")]
    assert [f.code for f in serious] == [code], [(f.code, f.message) for f in serious]
    return serious[0]


class TestDefaultDevice:
    @pytest.mark.parametrize("device", ['"cuda"', '"cuda:0"', 'torch.device("cuda")',
                                        'torch.device("cuda", 0)'])
    def test_set_default_device_makes_tensors_and_modules_on_the_gpu(self, tmp_path: Path,
                                                                       device: str) -> None:
        trace = run(tmp_path, f"""
            import torch
            torch.set_default_device({device})
            model = torch.nn.Linear(3, 1)
            x = torch.randn(4, 3)
            y = model(x)
            print(x.device, model.weight.device, model.bias.is_cuda, y.device, torch.get_default_device())
            print(torch.tensor([1, 2]).device, torch.arange(3).device, torch.zeros_like(x).device)
            print(torch.ones(2, device="cpu").device)
        """)
        assert out(trace) == ["cuda:0 cuda:0 True cuda:0 cuda:0", "cuda:0 cuda:0 cuda:0", "cpu"]
        assert trace.flags == ()

    def test_the_default_device_does_not_outlive_the_simulated_run(self, tmp_path: Path) -> None:
        out(run(tmp_path, "import torch\ntorch.set_default_device('cuda')\nx = torch.ones(2)\n"))
        assert torch.get_default_device() == torch.device("cpu")
        assert torch.ones(2).device == torch.device("cpu")

    def test_device_context_manager_and_reset(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            with torch.device("cuda"):
                layer = torch.nn.Linear(2, 2)
                a = torch.zeros(2)
            b = torch.zeros(2)
            torch.set_default_device("cuda")
            with torch.device("cpu"):
                c = torch.zeros(2)
            d = torch.zeros(2)
            torch.set_default_device(None)
            e = torch.zeros(2)
            print(layer.weight.device, a.device, b.device, c.device, d.device, e.device)
        """)
        assert out(trace) == ["cuda:0 cuda:0 cpu cpu cuda:0 cpu"]

    def test_a_default_gpu_tensor_mixed_with_a_cpu_one_raises_pytorchs_error(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            torch.set_default_device("cuda")
            model = torch.nn.Linear(3, 1)
            x = torch.randn(4, 3, device="cpu")
            y = model(x)
        """)
        assert trace.exception is not None and trace.exception.line == 6
        assert trace.exception.message == (
            "Expected all tensors to be on the same device, but got mat1 is on cpu, different from other "
            "tensors on cuda:0 (when checking argument in method wrapper_CUDA_addmm)"
        )
        assert only_flag(trace, "device-mismatch").tensors == ("x", "model.weight")

    def test_shuffling_dataloader_refuses_its_cpu_generator_as_on_a_gpu(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            from torch.utils.data import DataLoader, TensorDataset
            torch.set_default_device("cuda")
            data = TensorDataset(torch.randn(8, 2))
            for (batch,) in DataLoader(data, batch_size=4, shuffle=True):
                print(batch.device)
        """)
        assert trace.exception is not None and trace.exception.type == "RuntimeError"
        assert trace.exception.message == GENERATOR
        assert trace.exception.line == 6

    def test_random_ops_on_the_gpu_refuse_a_cpu_generator(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            g = torch.Generator().manual_seed(0)
            for make in (lambda: torch.randn(3, generator=g, device="cuda"),
                         lambda: torch.ones(3).cuda().uniform_(generator=g)):
                try:
                    make()
                except RuntimeError as e:
                    print(e)
            print(torch.randn(2, generator=g).device)
        """)
        assert out(trace) == [GENERATOR, GENERATOR, "cpu"]

    def test_without_the_option_the_script_fails_as_under_python(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            torch.set_default_device("cuda")
            model = torch.nn.Linear(3, 1)
        """, simulate=False)
        assert trace.exception is not None and trace.exception.line == 4
        assert (trace.exception.type, trace.exception.message) == plain_default_cuda_error()
        flag = only_flag(trace, "cuda-unavailable")
        assert flag.message.startswith(
            "`torch.nn.Linear(3, 1)` creates its tensors on the default device, cuda,")
        assert flag.tensors == ("model",)
        assert "tensorscope run --simulate-cuda " in flag.hint and "train_model.py" in flag.hint


class TestCudaUnavailable:
    def test_names_what_the_line_binds_and_the_real_script(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            model = torch.nn.Linear(3, 1).to("cuda")
        """, simulate=False)
        flag = only_flag(trace, "cuda-unavailable")
        assert flag.tensors == ("model",)
        assert "script.py" not in flag.hint and "train_model.py)" in flag.hint
        assert "train_model.py" in render("cuda-unavailable", "zh", flag.data).fix

    def test_a_name_that_is_moved_keeps_its_name(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            x = torch.ones(2)
            y = x.cuda()
        """, simulate=False)
        assert only_flag(trace, "cuda-unavailable").tensors == ("x",)

    def test_never_suggests_the_option_already_on(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            x = torch.ones(2).cuda()
            props = torch.cuda.get_device_properties(0)
        """)
        assert trace.exception is not None and trace.exception.line == 4
        flag = only_flag(trace, "cuda-unavailable")
        assert flag.data["variant"] == "simulated"
        assert flag.message.startswith("`torch.cuda.get_device_properties(0)` needs a real CUDA GPU")
        assert flag.tensors == ()
        for lang in ("en", "zh"):
            assert "run --simulate-cuda" not in render("cuda-unavailable", lang, flag.data).fix


class TestMismatchOrigin:
    def test_a_tensor_made_outside_the_forward_says_where(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            from torch import nn


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.emb = nn.Embedding(10, 4)

                def forward(self, idx):
                    return self.emb(idx)


            idx = torch.tensor([1, 2, 3])
            device = torch.device("cuda")
            model = Net().to(device)
            out = model(idx)
        """)
        flag = only_flag(trace, "device-mismatch")
        assert flag.line == 12 and flag.tensors[0] == "idx"
        assert "idx comes from line 15 (`idx = torch.tensor([1, 2, 3])`)" in flag.hint
        assert "`idx = idx.to(device)`" in flag.hint
        zh = render("device-mismatch", "zh", flag.data).fix
        assert "第 15 行" in zh and "idx = idx.to(device)" in zh

    def test_passed_down_through_two_functions(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch

            def inner(w, v):
                return w @ v

            def outer(w, v):
                return inner(w, v)

            weights = torch.ones(3, 3, device="cuda")
            vec = torch.ones(3)
            outer(weights, vec)
        """)
        flag = only_flag(trace, "device-mismatch")
        assert flag.line == 5
        assert "v comes from line 11 (`vec = torch.ones(3)`)" in flag.hint

    def test_made_in_the_failing_function_adds_nothing(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch

            def step(x):
                mask = torch.ones(3)
                return x * mask

            step(torch.ones(2, 3, device="cuda"))
        """)
        flag = only_flag(trace, "device-mismatch")
        assert "comes from line" not in flag.hint

    def test_a_name_bound_twice_is_not_guessed(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch

            def apply(w, v):
                return w @ v

            vec = torch.zeros(3)
            vec = torch.ones(3)
            apply(torch.ones(3, 3, device="cuda"), vec)
        """)
        flag = only_flag(trace, "device-mismatch")
        assert "comes from line" not in flag.hint
