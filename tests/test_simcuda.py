"""--simulate-cuda: a script behaves as on a one-GPU machine while its data stay on the CPU."""

from __future__ import annotations

import functools
import json
import textwrap
import threading
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tensorscope.cli import main
from tensorscope.engine import Session
from tensorscope.engine.simcuda import DEVICE_NAME, SimulateCudaError, SimulatedCuda
from tensorscope.model import Trace

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="simulation is for machines without a GPU")

ELEMENTWISE = "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"
ADDMM = (
    "Expected all tensors to be on the same device, but got mat1 is on cpu, different from other tensors on "
    "cuda:0 (when checking argument in method wrapper_CUDA_addmm)"
)


def run(tmp_path: Path, code: str, *, simulate: bool = True, argv: tuple[str, ...] = (),
        record: bool = False) -> Trace:
    """Run `code` as a script under tensorscope; its Trace."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    session = Session(str(path), list(argv), simulate_cuda=simulate)
    trace = session.record(timeout=120) if record else session.run(timeout=120)
    assert session.internal_errors == []
    return trace


def lines(trace: Trace) -> list[str]:
    assert trace.exception is None, trace.exception
    return trace.stdout.splitlines()


class TestTheMachine:
    def test_cuda_queries_answer_as_one_simulated_gpu(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            print(torch.cuda.is_available(), torch.cuda.device_count(), torch.cuda.current_device())
            print(torch.cuda.get_device_name())
            print(torch.accelerator.is_available(), torch.accelerator.current_accelerator())
        """)
        assert lines(trace) == ["True 1 0", DEVICE_NAME, "True cuda"]
        assert "simulated" in DEVICE_NAME.lower()
        assert trace.simulated_cuda

    def test_nothing_leaks_after_the_run(self, tmp_path: Path) -> None:
        original = torch.cuda.is_available
        run(tmp_path, "import torch\nx = torch.ones(2).cuda()\n")
        assert torch.cuda.is_available() is False
        assert torch.cuda.is_available is original
        t = torch.ones(2)
        assert t.device == torch.device("cpu") and not t.is_cuda
        assert "device=" not in repr(t)

    def test_other_threads_see_the_real_machine_while_the_script_runs(self, tmp_path: Path) -> None:
        path = tmp_path / "script.py"
        path.write_text("import torch\nx = torch.ones(2, device='cuda')\ny = x * 2\n", encoding="utf-8")
        session = Session(str(path), simulate_cuda=True)
        session.start()
        try:
            assert session.wait() is not None
            session.command("next")
            step = session.command("next")
            assert step is not None and step.line == 3
            assert torch.cuda.is_available() is False
            assert torch.ones(2).device.type == "cpu"
            with pytest.raises((RuntimeError, AssertionError)):
                torch.ones(2).cuda()
        finally:
            session.stop()
            session.join(10)

    def test_refused_on_a_machine_with_a_gpu(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        with pytest.raises(SimulateCudaError, match="this one has CUDA"):
            SimulatedCuda()
        script = tmp_path / "s.py"
        script.write_text("print(1)\n", encoding="utf-8")
        from tensorscope.engine import process

        # the engine child makes its checks first: this factory makes its torch answer as on a GPU machine
        monkeypatch.setattr(process, "spec_for", functools.partial(process.spec_for,
                                                                   checks=f"{__name__}:on_a_gpu_machine"))
        result = CliRunner().invoke(main, ["check", "--simulate-cuda", str(script)])
        assert result.exit_code == 2
        assert "has CUDA" in result.stderr and "internal error" not in result.stderr



def on_a_gpu_machine() -> list[object]:
    """No checks, in an engine child whose torch says CUDA is available."""
    torch.cuda.is_available = lambda: True  # type: ignore[assignment]  # this child only
    return []


class TestTensorsReportTheirDevice:
    def test_factories_to_cuda_and_back(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            a = torch.zeros(2, device="cuda")
            b = torch.ones(2).to("cuda")
            c = torch.ones(2).cuda()
            d = torch.arange(3, device=torch.device("cuda:0"))
            e = torch.zeros_like(a)
            f = a.new_ones(2)
            g = torch.tensor([1.0], device="cuda")
            for t in (a, b, c, d, e, f, g):
                print(t.device, t.is_cuda, t.get_device())
            h = a.cpu()
            i = a.to("cpu")
            print(h.device, h.is_cuda, h.get_device(), i.device, a.device)
            print(b.to("cuda") is b, b.cuda() is b, h.cpu() is h)
            print(repr(a))
        """)
        out = lines(trace)
        assert out[:7] == ["cuda:0 True 0"] * 7
        assert out[7] == "cpu False -1 cpu cuda:0"
        assert out[8] == "True True True"
        assert out[9] == "tensor([0., 0.], device='cuda:0')"

    def test_recorded_steps_show_the_simulated_device(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            w = torch.ones(2, requires_grad=True, device="cuda")
            x = torch.ones(2)
            loss = (w * 2).sum()
            loss.backward()
        """, record=True)
        last = trace.steps[-1]
        views = {v.name: v for v in last.tensors}
        assert views["w"].device == "cuda:0"
        assert views["loss"].device == "cuda:0"
        assert views["x"].device == "cpu"
        assert views["w"].grad is not None and views["w"].grad.device == "cuda:0"

    def test_results_views_detach_parameters_and_data_keep_the_device(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import copy
            import torch
            from torch import nn
            x = torch.randn(4, 3).cuda()
            p = nn.Parameter(torch.randn(3).cuda())
            q = nn.Parameter(torch.randn(3))
            q.data = torch.zeros(3, device="cuda")
            for t in (x * 2 + 1, x.sum(), x @ x.T, x[1:], x.view(12), x.T, x.detach(), p, p[0], q,
                      torch.relu(x), x.max(dim=0).values, x.to(torch.float64), x.double(), x.long(),
                      torch.zeros_like(x, device=None), torch.as_tensor(x), x.clone(), copy.deepcopy(x)):
                print(t.device)
        """)
        assert lines(trace) == ["cuda:0"] * 19

    def test_gradients_live_on_their_tensors_device(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            w = torch.ones(3, requires_grad=True)
            v = torch.ones(3, requires_grad=True, device="cuda")
            loss = (w.cuda() * v).sum()
            loss.backward()
            print(w.grad.device, v.grad.device, w.grad.tolist())
            x = torch.ones(2, requires_grad=True, device="cuda")
            (g,) = torch.autograd.grad((x * x).sum(), x)
            print(g.device, g.tolist())
        """)
        assert lines(trace) == ["cpu cuda:0 [1.0, 1.0, 1.0]", "cuda:0 [2.0, 2.0]"]

    def test_numpy_of_a_cuda_tensor_raises_pytorchs_type_error(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            x = torch.ones(2).cuda()
            print(x.cpu().numpy().tolist())
            x.numpy()
        """)
        assert trace.stdout == "[1.0, 1.0]\n"
        assert trace.exception is not None
        assert trace.exception.type == "TypeError"
        assert trace.exception.message == (
            "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
            "memory first."
        )
        assert trace.exception.line == 5


class TestModulesAndOptimizers:
    def test_module_moves_grads_and_optimizer_state(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            from torch import nn
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).to(device)
            print({p.device.type for p in model.parameters()})
            sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            adam = torch.optim.Adam(model.parameters(), lr=0.1)
            x = torch.randn(8, 3, device=device)
            loss = model(x).pow(2).mean()
            loss.backward()
            print(loss.device, {p.grad.device.type for p in model.parameters()})
            sgd.step()
            adam.step()
            w = model[0].weight
            print(sgd.state[w]["momentum_buffer"].device)
            print(adam.state[w]["exp_avg"].device, adam.state[w]["exp_avg_sq"].device)
            model.cpu()
            print(model[0].weight.device, model[0].weight.grad.device)
        """)
        assert lines(trace) == [
            "{'cuda'}", "cuda:0 {'cuda'}", "cuda:0", "cuda:0 cuda:0", "cpu cpu",
        ]

    def test_training_with_adam_is_bit_identical_to_the_cpu_run(self, tmp_path: Path) -> None:
        code = """
            import sys
            import torch
            from torch import nn
            device = "cuda" if torch.cuda.is_available() else "cpu"
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1)).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=1e-2)
            x, y = torch.randn(64, 8).to(device), torch.randn(64, 1).to(device)
            for _ in range(40):
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
            print(model[0].weight.device)
            torch.save([p.detach().cpu() for p in model.parameters()], sys.argv[1])
        """
        simulated = run(tmp_path, code, argv=(str(tmp_path / "sim.pt"),))
        plain = run(tmp_path, code, simulate=False, argv=(str(tmp_path / "cpu.pt"),))
        assert lines(simulated) == ["cuda:0"]
        assert lines(plain) == ["cpu"]
        a = torch.load(tmp_path / "sim.pt")
        b = torch.load(tmp_path / "cpu.pt")
        assert len(a) == 4
        assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


class TestMixingDevices:
    def test_elementwise_form(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            a = torch.ones(3).cuda()
            b = torch.ones(3)
            c = a + b
        """)
        assert trace.exception is not None and trace.exception.type == "RuntimeError"
        assert trace.exception.message == ELEMENTWISE
        assert trace.exception.line == 5

    def test_argument_checked_form_in_a_forward_pass(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            from torch import nn
            model = nn.Linear(3, 1).to("cuda")
            x = torch.randn(4, 3)
            y = model(x)
        """)
        assert trace.exception is not None and trace.exception.message == ADDMM
        assert trace.exception.line == 6

    def test_loss_with_labels_left_on_the_cpu(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            logits = torch.randn(4, 3, device="cuda")
            labels = torch.tensor([0, 1, 2, 0])
            loss = torch.nn.functional.cross_entropy(logits, labels)
        """)
        assert trace.exception is not None
        assert trace.exception.message == (
            "Expected all tensors to be on the same device, but got target is on cpu, different from other "
            "tensors on cuda:0 (when checking argument in method wrapper_CUDA_nll_loss_forward)"
        )

    def test_cpu_zero_dim_scalar_is_allowed(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            a = torch.ones(3).cuda()
            s = torch.tensor(2.0)
            print((a * s).device, (s + a).device, torch.where(a > 0, a, s).device)
            a.mul_(s)
            print(a.tolist())
            b = torch.ones(1)
            a + b
        """)
        assert trace.stdout == "cuda:0 cuda:0 cuda:0\n[2.0, 2.0, 2.0]\n"
        assert trace.exception is not None and trace.exception.message == ELEMENTWISE
        assert trace.exception.line == 9

    def test_in_place_into_a_cpu_scalar_is_refused(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            total = torch.tensor(0.0)
            total += torch.ones(3).cuda().sum()
        """)
        assert trace.exception is not None and trace.exception.message == ELEMENTWISE

    def test_copies_across_devices_are_allowed(self, tmp_path: Path) -> None:
        trace = run(tmp_path, """
            import torch
            a = torch.zeros(2, 3).cuda()
            a[0] = torch.ones(3)
            b = torch.zeros(3)
            b.copy_(a[0])
            idx = torch.tensor([1, 0])
            print(a[idx].device, b.device, b.tolist())
        """)
        assert lines(trace) == ["cuda:0 cpu [1.0, 1.0, 1.0]"]

    def test_without_the_option_cuda_fails_as_under_plain_python(self, tmp_path: Path) -> None:
        try:
            torch.ones(2).to("cuda")
        except Exception as exc:  # what plain python says on this machine
            expected = exc
        else:
            pytest.skip("this machine has CUDA")
        trace = run(tmp_path, "import torch\nx = torch.ones(2).to('cuda')\n", simulate=False)
        assert trace.exception is not None
        assert trace.exception.message == str(expected)
        assert trace.exception.type.endswith(type(expected).__name__)
        assert not trace.simulated_cuda


class TestCommandLine:
    def test_check_json_says_simulated(self, tmp_path: Path) -> None:
        script = tmp_path / "s.py"
        script.write_text("import torch\nx = torch.ones(2).cuda()\nprint(x.device)\n", encoding="utf-8")
        result = CliRunner().invoke(main, ["check", "--json", "--simulate-cuda", str(script)])
        payload = json.loads(result.output)
        assert payload["simulated_cuda"] is True
        assert payload["stdout"] == "cuda:0\n"
        assert result.exit_code == 0

    def test_trace_runs_simulated(self, tmp_path: Path) -> None:
        script = tmp_path / "s.py"
        script.write_text("import torch\nx = torch.ones(2).cuda()\nprint(x.device)\n", encoding="utf-8")
        result = CliRunner().invoke(main, ["trace", "--json", "--simulate-cuda", str(script)])
        trace = Trace.from_dict(json.loads(result.output))
        assert trace.simulated_cuda and trace.stdout == "cuda:0\n"

    def test_device_mismatch_scenario(self) -> None:
        from tensorscope.checks import default_checks

        if "device-mismatch" not in {getattr(c, "code", "") for c in default_checks()}:
            pytest.skip("the device-mismatch check is not registered yet")
        flagged = CliRunner().invoke(main, ["check", "--json", "--simulate-cuda", "device_mismatch"])
        flags = json.loads(flagged.output)["flags"]
        assert [(f["code"], f["line"]) for f in flags if f["code"] == "device-mismatch"] == [
            ("device-mismatch", 29)
        ]
        fixed = CliRunner().invoke(
            main, ["check", "--json", "--simulate-cuda", "device_mismatch", "--", "--fixed"]
        )
        assert json.loads(fixed.output)["flags"] == [] and fixed.exit_code == 0


def test_simulation_is_per_thread() -> None:
    """Two threads: the simulated one sees a GPU, the other never does."""
    sim = SimulatedCuda()
    seen: dict[str, object] = {}
    inside = threading.Event()
    release = threading.Event()

    def script() -> None:
        with sim.activate():
            x = torch.ones(2).cuda()
            seen["script"] = (torch.cuda.is_available(), x.device.type)
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=script)
    worker.start()
    assert inside.wait(10)
    seen["main"] = (torch.cuda.is_available(), torch.ones(2).device.type)
    release.set()
    worker.join(10)
    assert seen == {"script": (True, "cuda"), "main": (False, "cpu")}
