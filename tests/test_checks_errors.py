"""Checks that explain the errors PyTorch raises, name the user's variables, and the `check` command.

Each test runs a small script, written in one of several styles (module level, functions, classes,
nn.Module, different optimizers), through a Session with every check on, and asserts what a user
would read: the code, severity and line of the one flag explaining the exception, the variable names
in its message, its Chinese rendering, and that the script still raised exactly PyTorch's exception.
"""

from __future__ import annotations

import contextlib
import io
import json
import runpy
import sys
from pathlib import Path

import pytest
from cli_runs import tensorscope_here

from tensorscope.checks import codes, default_checks
from tensorscope.engine import Session
from tensorscope.explain.catalogue import CATALOGUE, VARIANTS, render
from tensorscope.model import Flag, Trace

REPO = Path(__file__).resolve().parent.parent
ERROR_CODES = ("device-mismatch", "cuda-unavailable", "nonscalar-backward", "backward-twice",
               "no-grad-graph", "dtype-mismatch", "shape-mismatch", "inplace-leaf", "script-error")


def run_checked(path: Path, simulate_cuda: bool = False) -> Trace:
    """Run the script headless with every check on; tensorscope itself must not have failed."""
    session = Session(str(path), monitors=default_checks(), simulate_cuda=simulate_cuda)
    trace = session.run(timeout=120)
    assert session.internal_errors == []
    return trace


def plain_error(path: Path) -> tuple[str, str] | None:
    """(type name, message) of the exception the script raises under plain Python, None if it does not."""
    old_argv, old_path = sys.argv[:], sys.path[:]
    sys.argv, sys.path[0:0] = [str(path)], [str(path.parent)]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            runpy.run_path(str(path), run_name="__main__")
    except Exception as exc:  # the script's own error, what a user would see
        return type(exc).__qualname__, str(exc)
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
    return None


def the_flag(trace: Trace, code: str) -> Flag:
    """The single error/warning flag of the run; it must carry `code`."""
    serious = [f for f in trace.flags if f.severity in ("error", "warning")]
    assert [f.code for f in serious] == [code], [(f.code, f.message) for f in serious]
    return serious[0]


def explained(write_script, source: str, code: str, line: int, *names: str, en: tuple[str, ...] = (),
              simulate_cuda: bool = False) -> tuple[Flag, Trace]:
    """Run a failing script: exactly one flag, with `code` at `line` naming `names` (in English and
    Chinese; `en`: phrases of the English message), and PyTorch's exception unchanged."""
    path = write_script(source)
    trace = run_checked(path, simulate_cuda)
    flag = the_flag(trace, code)
    assert flag.severity == "error"
    assert flag.line == line
    for name in (*names, *en):
        assert name in flag.message, (name, flag.message)
    assert trace.exception is not None and trace.exception.line == line
    if not simulate_cuda:
        expected = plain_error(path)
        assert expected is not None
        assert (trace.exception.type, trace.exception.message) == expected
    zh = render(flag.code, "zh", flag.data)
    for name in names:
        assert name in zh.message
    assert zh.message != flag.message and zh.fix and zh.cause
    assert "?" not in flag.message, flag.message
    return flag, trace


class TestDtypeMismatch:
    """Mixed dtypes name the user's variables and dtypes, not PyTorch's mat1/mat2."""

    def test_float64_numpy_data_into_sequential(self, write_script):
        flag, _ = explained(write_script, """
            import numpy as np
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
            x = torch.from_numpy(np.random.rand(16, 3))
            y_pred = model(x)
        """, "dtype-mismatch", 7, "x", "float64", "model.0.weight", "float32")
        assert "x is float64 but model.0.weight is float32" in flag.message
        assert "x = x.float()" in flag.hint
        assert set(flag.tensors) == {"x", "model.0.weight"}

    def test_inside_a_function_with_a_custom_module(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)

                def forward(self, features):
                    return self.fc(features)

            def predict(net, batch):
                return net(batch)

            predict(Net(), torch.ones(3, 4, dtype=torch.float64))
        """, "dtype-mismatch", 10, "features", "self.fc.weight")
        assert flag.function == "forward"

    def test_matmul_of_two_tensors(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            X = torch.randn(5, 3, dtype=torch.double)
            w = torch.randn(3, 1, requires_grad=True)
            out = X @ w
        """, "dtype-mismatch", 4, "X", "w", "float64", "float32",
                               en=("X is float64", "w is float32"))
        assert "X = X.float()" in flag.hint

    def test_class_targets_must_be_long(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            import torch.nn.functional as F

            def train_step(model, batch, optimizer):
                inputs, labels = batch
                logits = model(inputs)
                loss = F.cross_entropy(logits, labels)
                loss.backward()

            model = torch.nn.Linear(4, 3)
            batch = (torch.randn(4, 4), torch.tensor([0.0, 1.0, 2.0, 1.0]))
            train_step(model, batch, torch.optim.Adam(model.parameters()))
        """, "dtype-mismatch", 7, "labels", "F.cross_entropy", "int64")
        assert "labels = labels.long()" in flag.hint

    def test_integer_tensor_updated_in_place_with_floats(self, write_script):
        explained(write_script, """
            import torch
            counts = torch.zeros(3, dtype=torch.long)
            counts += torch.rand(3)
        """, "dtype-mismatch", 3, "counts", "int64", "float32")

    def test_float_indices_into_an_embedding(self, write_script):
        explained(write_script, """
            import torch
            emb = torch.nn.Embedding(10, 4)
            idx = torch.tensor([1.0, 2.0])
            vectors = emb(idx)
        """, "dtype-mismatch", 4, "idx", "emb", "float32")


    def test_dataloader_batch_in_a_multi_line_call(self, write_script):
        explained(write_script, """
            import numpy as np
            import torch
            from torch.utils.data import DataLoader, TensorDataset

            features = torch.from_numpy(np.random.rand(32, 4))
            targets = torch.rand(32, 1)
            loader = DataLoader(TensorDataset(features, targets), batch_size=8)
            model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
            criterion = torch.nn.MSELoss()
            for xb, yb in loader:
                loss = criterion(
                    model(xb),
                    yb,
                )
        """, "dtype-mismatch", 12, "xb", "model.0.weight",
            en=("xb is float64 but model.0.weight is float32",))


class TestDtypePromotion:
    """float64 silently spreading into float32 work is an `info`, once per variable."""

    def test_numpy_target_promotes_the_loss(self, write_script):
        path = write_script("""
            import numpy as np
            import torch

            w = torch.randn(3, 1, requires_grad=True)
            x = torch.randn(8, 3)
            y = torch.from_numpy(np.random.rand(8, 1))
            for epoch in range(3):
                pred = x @ w
                loss = ((pred - y) ** 2).mean()
                loss.backward()
                with torch.no_grad():
                    w -= 0.1 * w.grad
                    w.grad.zero_()
            print(loss.dtype)
        """)
        trace = run_checked(path)
        assert trace.completed and trace.stdout == "torch.float64\n"
        flags = [f for f in trace.flags if f.code == "dtype-mismatch"]
        assert len(flags) == 1  # once, not once per epoch
        flag = flags[0]
        assert (flag.severity, flag.line) == ("info", 9)
        assert "loss became float64" in flag.message and "y is float64" in flag.message
        assert "pred is float32" in flag.message
        assert "y = y.float()" in flag.hint
        assert "float64" in render(flag.code, "zh", flag.data).message

    def test_reported_where_it_happens_not_again_by_the_caller(self, write_script):
        path = write_script("""
            import numpy as np
            import torch

            def centre(batch, mean):
                centred = batch - mean
                return centred

            x = torch.randn(4, 3)
            mean = torch.from_numpy(np.ones(3))
            x2 = centre(x, mean)
        """)
        trace = run_checked(path)
        infos = [f for f in trace.flags if f.code == "dtype-mismatch"]
        assert [(f.line, f.function) for f in infos] == [(5, "centre")]
        assert "centred became float64" in infos[0].message

    def test_explicit_double_and_all_float64_are_not_flagged(self, write_script):
        path = write_script("""
            import torch
            a = torch.randn(4, 3)
            b = a.double() * torch.ones(3, dtype=torch.float64)
            c = torch.randn(4, 3, dtype=torch.float64)
            d = c * torch.randn(3, dtype=torch.float64) + 1.0
            e = a * torch.tensor(2.0, dtype=torch.float64)
            a += 1
        """)
        trace = run_checked(path)
        assert trace.completed and trace.flags == ()


class TestShapeMismatch:
    """Shape errors name the user's tensors and shapes and the dimension that must agree."""

    def test_linear_layer_in_features(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            import torch.nn as nn

            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)

                def forward(self, x):
                    return self.fc(x)

            model = Model()
            x = torch.randn(8, 3)
            out = model(x)
        """, "shape-mismatch", 10, "x", "8×3", "self.fc",
                               en=("x has shape 8×3", "4 input features"))
        assert "last dimension of x must equal in_features" in flag.message
        assert "x.flatten(1)" in flag.hint or "x.T" in flag.hint

    def test_later_layer_of_a_sequential_names_the_slice(self, write_script):
        explained(write_script, """
            import torch
            from torch import nn
            net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(32, 10))
            images = torch.randn(16, 1, 28, 28)
            logits = net(images)
        """, "shape-mismatch", 5, "net[:3](images)", "16×64", "net.3",
               en=("32 input features",))

    def test_matmul_inner_dimensions(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            X = torch.randn(10, 3)
            w = torch.randn(10, 1, requires_grad=True)
            y = X @ w
        """, "shape-mismatch", 4, "X", "w", "10×3", "10×1",
                               en=("X has shape 10×3", "w has shape 10×1"))
        assert "3 and 10" in flag.message and "w.T" in flag.hint

    def test_view_to_the_wrong_number_of_elements(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            images = torch.randn(16, 1, 28, 28)
            flat = images.view(16, 28 * 29)
        """, "shape-mismatch", 3, "images", "12544", "(16, 812)")
        assert "images.view(16, -1)" in flag.hint

    def test_view_of_a_transposed_tensor(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            x = torch.randn(2, 3)
            xt = x.t()
            flat = xt.view(6)
        """, "shape-mismatch", 4, "xt")
        assert "reshape" in flag.hint

    def test_broadcast_of_incompatible_shapes(self, write_script):
        explained(write_script, """
            import torch

            def combine(a, b):
                return a + b

            combine(torch.randn(8, 3), torch.randn(8, 4))
        """, "shape-mismatch", 4, "a", "b", "8×3", "8×4",
               en=("a has shape 8×3", "b has shape 8×4", "3 vs 4"))

    def test_cat_names_the_odd_tensor(self, write_script):
        explained(write_script, """
            import torch
            left = torch.randn(2, 3)
            right = torch.randn(2, 4)
            both = torch.cat([left, right], dim=0)
        """, "shape-mismatch", 4, "left", "right", "2×3", "2×4",
               en=("left has shape 2×3", "right has shape 2×4", "dimension 0"))

    def test_cross_entropy_target_with_an_extra_dimension(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            criterion = torch.nn.CrossEntropyLoss()
            logits = torch.randn(8, 5, requires_grad=True)
            target = torch.randint(0, 5, (8, 1))
            loss = criterion(logits, target)
        """, "shape-mismatch", 5, "criterion", "logits", "8×5", "target", "8×1")
        assert "target.view(-1)" in flag.hint

    def test_conv_channels(self, write_script):
        explained(write_script, """
            import torch
            conv = torch.nn.Conv2d(3, 8, kernel_size=3)
            gray = torch.randn(4, 1, 28, 28)
            features = conv(gray)
        """, "shape-mismatch", 4, "gray", "4×1×28×28", "conv")

    def test_item_of_a_batch(self, write_script):
        explained(write_script, """
            import torch
            model = torch.nn.Linear(3, 1)
            x = torch.randn(5, 3)
            print("loss", model(x).pow(2).item())
        """, "shape-mismatch", 4, "model(x).pow(2)", "5", en=("5 elements",))

    def test_dimension_out_of_range(self, write_script):
        explained(write_script, """
            import torch
            scores = torch.randn(4, 3)
            total = scores.sum(dim=2)
        """, "shape-mismatch", 3, "scores", "4×3", en=("2 dimensions",))


    def test_functional_linear(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            import torch.nn.functional as F
            W = torch.randn(2, 4, requires_grad=True)
            x = torch.randn(8, 3)
            out = F.linear(x, W)
        """, "shape-mismatch", 5, "x", "W.T", "8×3", "4×2")
        assert "`W`" in flag.hint

    def test_inside_a_list_comprehension(self, write_script):
        explained(write_script, """
            import torch
            model = torch.nn.Linear(3, 2)
            batches = [torch.randn(4, 3), torch.randn(4, 5)]
            preds = [model(b) for b in batches]
        """, "shape-mismatch", 4, "b", "4×5", "model", en=("3 input features",))


class TestAutogradErrors:
    """backward() errors: non-scalar, twice through a freed graph, no graph at all."""

    def test_nonscalar_loss(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            w = torch.randn(3, 1, requires_grad=True)
            x = torch.randn(4, 3)
            y = torch.randn(4, 1)
            loss = (x @ w - y) ** 2
            loss.backward()
        """, "nonscalar-backward", 6, "loss", "4×1", en=("4 values",))
        assert "loss.mean().backward()" in flag.hint
        assert "gradient=torch.ones_like(loss)" in flag.hint

    def test_nonscalar_expression_through_autograd_backward(self, write_script):
        explained(write_script, """
            import torch
            net = torch.nn.Linear(2, 3)

            def step():
                out = net(torch.ones(5, 2))
                torch.autograd.backward(out)

            step()
        """, "nonscalar-backward", 6, "out", "5×3")

    def test_backward_twice_on_the_same_loss(self, write_script):
        explained(write_script, """
            import torch
            w = torch.randn(3, requires_grad=True)
            loss = (w * w).sum()
            loss.backward()
            loss.backward()
        """, "backward-twice", 5, "loss.backward()")

    def test_hidden_state_carried_across_iterations(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            cell = torch.nn.RNNCell(4, 8)
            opt = torch.optim.SGD(cell.parameters(), lr=0.1)
            h = torch.zeros(1, 8)
            for t in range(5):
                h = cell(torch.randn(1, 4), h)
                loss = h.pow(2).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
        """, "backward-twice", 9, "loss", "h")
        assert "h = h.detach()" in flag.hint

    def test_prediction_computed_once_before_the_loop(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            w = torch.randn(3, 1, requires_grad=True)
            x = torch.randn(5, 3)
            pred = x @ w
            for i in range(3):
                loss = pred.pow(2).mean()
                loss.backward()
        """, "backward-twice", 7, "loss", "pred", en=("before the loop",))
        assert "pred" in flag.tensors

    def test_two_losses_sharing_a_graph(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            x = torch.randn(3, 2)
            w = torch.randn(2, 1, requires_grad=True)
            h = torch.tanh(x @ w)
            loss_a = h.mean()
            loss_b = (h ** 2).mean()
            loss_a.backward()
            loss_b.backward()
        """, "backward-twice", 8, "loss_b", "h", "loss_a")
        assert "(loss_a + loss_b).backward()" in flag.hint

    def test_loss_computed_under_no_grad(self, write_script):
        explained(write_script, """
            import torch
            model = torch.nn.Linear(3, 1)
            x = torch.randn(4, 3)
            with torch.no_grad():
                loss = model(x).pow(2).mean()
            loss.backward()
        """, "no-grad-graph", 6, "loss", "torch.no_grad()", en=("line 4",))

    def test_prediction_detached_two_lines_earlier(self, write_script):
        explained(write_script, """
            import torch
            model = torch.nn.Linear(3, 1)
            x, y = torch.randn(4, 3), torch.randn(4, 1)
            pred = model(x).detach()
            loss = torch.nn.functional.mse_loss(pred, y)
            loss.backward()
        """, "no-grad-graph", 6, "loss", ".detach()", en=("line 4",))

    def test_frozen_model_and_targets_made_with_torch_tensor(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            model = torch.nn.Linear(3, 1)
            model.requires_grad_(False)
            y = torch.tensor([1.0, 2.0, 3.0, 4.0]).unsqueeze(1)
            loss = torch.nn.functional.mse_loss(model(torch.randn(4, 3)), y)
            loss.backward()
        """, "no-grad-graph", 6, "loss", "model.weight")
        assert flag.data["variant"] == "nothing-requires-grad"

    def test_parameters_without_requires_grad(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            w = torch.randn(3, 1)
            b = torch.zeros(1)
            x = torch.randn(4, 3)
            loss = (x @ w + b).pow(2).mean()
            loss.backward()
        """, "no-grad-graph", 6, "loss", "w", "b")
        assert "requires_grad=True" in flag.hint

    def test_loss_rewrapped_from_item(self, write_script):
        explained(write_script, """
            import torch

            class Trainer:
                def __init__(self):
                    self.model = torch.nn.Linear(3, 1)

                def step(self, x):
                    value = self.model(x).pow(2).mean().item()
                    loss = torch.tensor(value)
                    loss.backward()

            Trainer().step(torch.randn(4, 3))
        """, "no-grad-graph", 10, "loss", "torch.tensor")

    def test_update_outside_no_grad(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            w = torch.randn(3, requires_grad=True)
            x = torch.randn(5, 3)
            for step in range(3):
                loss = (x @ w).pow(2).mean()
                loss.backward()
                w -= 0.1 * w.grad
        """, "inplace-leaf", 7, "w -= 0.1 * w.grad", "w")
        assert "with torch.no_grad():" in flag.hint

    def test_update_of_module_parameters_in_a_method(self, write_script):
        explained(write_script, """
            import torch

            class LinReg:
                def __init__(self):
                    self.w = torch.zeros(2, 1, requires_grad=True)

                def step(self, x, y, lr=0.1):
                    loss = ((x @ self.w - y) ** 2).mean()
                    loss.backward()
                    self.w.sub_(lr * self.w.grad)

            LinReg().step(torch.randn(4, 2), torch.randn(4, 1))
        """, "inplace-leaf", 10, "self.w")

    def test_parameters_loop_update(self, write_script):
        explained(write_script, """
            import torch
            model = torch.nn.Linear(2, 1)
            loss = model(torch.ones(3, 2)).sum()
            loss.backward()
            for p in model.parameters():
                p -= 0.1 * p.grad
        """, "inplace-leaf", 6, "p")


class TestCuda:
    """CUDA on a machine without it, and devices mixed under --simulate-cuda."""

    def test_cuda_requested_on_a_cpu_machine(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            model = torch.nn.Linear(3, 1)
            model = model.to("cuda")
        """, "cuda-unavailable", 3, 'model.to("cuda")')
        assert "--simulate-cuda" in flag.hint
        assert 'torch.device("cuda" if torch.cuda.is_available() else "cpu")' in flag.hint

    def test_dot_cuda_on_a_tensor(self, write_script):
        explained(write_script, """
            import torch

            def load():
                return torch.randn(3, 3).cuda()

            batch = load()
        """, "cuda-unavailable", 4, "torch.randn(3, 3).cuda()")

    def test_model_on_gpu_batch_on_cpu(self, write_script):
        flag, trace = explained(write_script, """
            import torch
            from torch import nn
            device = torch.device("cuda")
            model = nn.Linear(3, 1).to(device)
            x = torch.randn(4, 3)
            y_pred = model(x)
        """, "device-mismatch", 6, "x", "model.weight", "cuda:0",
                                   en=("x is on cpu", "model.weight is on cuda:0"), simulate_cuda=True)
        assert flag.tensors == ("x", "model.weight")
        assert "x = x.to(device)" in flag.hint
        assert trace.exception is not None
        assert trace.exception.message.startswith("Expected all tensors to be on the same device")

    def test_elementwise_mix_inside_a_function(self, write_script):
        explained(write_script, """
            import torch
            from torch import nn

            def fit(model, x, y):
                pred = model(x.to("cuda"))
                return ((pred - y) ** 2).mean()

            fit(nn.Linear(3, 1).cuda(), torch.randn(5, 3), torch.randn(5, 1))
        """, "device-mismatch", 6, "pred", "y", "cuda:0",
               en=("pred is on cuda:0", "y is on cpu"), simulate_cuda=True)

    def test_tensor_created_inside_forward_without_a_device(self, write_script):
        explained(write_script, """
            import torch
            from torch import nn

            class Masked(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lin = nn.Linear(4, 4)

                def forward(self, x):
                    mask = torch.ones(x.shape[0], 1)
                    return self.lin(x) * mask

            out = Masked().cuda()(torch.randn(3, 4).cuda())
        """, "device-mismatch", 11, "mask", "cpu", "cuda:0", simulate_cuda=True)

    def test_numpy_of_a_gpu_tensor(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            x = torch.randn(3).cuda()
            arr = x.detach().numpy()
        """, "device-mismatch", 3, "x", "cuda:0", simulate_cuda=True)
        assert "x.detach().cpu().numpy()" in flag.hint


class TestScriptError:
    """Any other exception: one `script-error`, never a second flag for a recognised one."""

    def test_other_exception(self, write_script):
        flag, _ = explained(write_script, """
            settings = {"lr": 0.1}
            print(settings["epochs"])
        """, "script-error", 2, "KeyError")
        assert flag.data["type"] == "KeyError"

    @pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
    def test_grad_of_a_non_leaf_is_none(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            w = torch.randn(3, requires_grad=True) * 0.01
            loss = (w * 2).sum()
            loss.backward()
            w.grad.zero_()
        """, "script-error", 5, "w.grad", "None", "MulBackward0",
                            en=("w.grad is None", "not a leaf"))
        assert "requires_grad_()" in flag.hint

    def test_embedding_index_past_the_last_row(self, write_script):
        flag, _ = explained(write_script, """
            import torch
            vocab = torch.nn.Embedding(10, 4)
            tokens = torch.tensor([[1, 2, 12]])
            vectors = vocab(tokens)
        """, "script-error", 4, "tokens", "12", "vocab", "10")
        assert "nn.Embedding(13" in flag.hint

    def test_keyboard_interrupt(self, write_script):
        path = write_script("""
            x = 1
            raise KeyboardInterrupt
        """)
        trace = run_checked(path)
        flag = the_flag(trace, "script-error")
        assert flag.line == 2 and "interrupted" in flag.message
        assert trace.exception is not None and trace.exception.type == "KeyboardInterrupt"

    def test_system_exit_is_not_an_error(self, write_script):
        path = write_script("""
            import sys
            sys.exit(0)
        """)
        trace = run_checked(path)
        assert trace.flags == () and trace.end_reason == "exit"

    def test_each_recognised_error_is_reported_once(self, write_script):
        path = write_script("""
            import torch
            a = torch.randn(2, 3)
            b = a @ a
        """)
        trace = run_checked(path)
        assert [f.code for f in trace.flags] == ["shape-mismatch"]


CLEAN_LOOPS = {
    "sgd_momentum_relu_inplace": """
        import torch
        import torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(inplace=True), nn.Linear(16, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x = torch.randn(64, 4)
        y = x.sum(dim=1, keepdim=True)
        for epoch in range(5):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            with torch.no_grad():
                val = nn.functional.mse_loss(model(x), y).item()
    """,
    "adam_classifier_with_validation": """
        import numpy as np
        import torch
        from torch import nn

        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(5, 32), nn.ReLU())
                self.head = nn.Linear(32, 2)

            def forward(self, x):
                return self.head(self.body(x))

        rng = np.random.default_rng(0)
        features = rng.normal(size=(64, 5))
        X = torch.tensor(features, dtype=torch.float32)
        y = torch.from_numpy((features[:, 0] > 0).astype(np.int64))
        net = Classifier()
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(3):
            for i in range(0, 64, 16):
                loss = loss_fn(net(X[i:i + 16]), y[i:i + 16])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            acc = (net(X).argmax(dim=1) == y).float().mean().item()
    """,
    "manual_sgd_linreg": """
        import torch
        X = torch.randn(20, 2)
        Y = X @ torch.tensor([[2.0], [-1.0]]) + 0.5
        w = torch.zeros(2, 1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        losses = []
        for step in range(20):
            loss = ((X @ w + b - Y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
                b -= 0.1 * b.grad
            w.grad.zero_()
            b.grad.zero_()
            losses.append(loss.item())
    """,
    "rnn_state_detached_adagrad": """
        import torch
        rnn = torch.nn.GRUCell(3, 6)
        head = torch.nn.Linear(6, 1)
        opt = torch.optim.Adagrad(list(rnn.parameters()) + list(head.parameters()), lr=0.1)
        h = torch.zeros(2, 6)
        for t in range(6):
            h = rnn(torch.randn(2, 3), h)
            loss = head(h).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            h = h.detach()
    """,
    "autograd_grad_views_and_reshapes": """
        import torch
        x = torch.linspace(-1, 1, 5, requires_grad=True)
        (g,) = torch.autograd.grad((x ** 3).sum(), x)
        y = x * 2
        y.backward(torch.ones_like(y))
        a = torch.arange(6.0).view(2, 3)
        b = a.T.reshape(6)
        c = torch.cat([a, a], dim=0) @ a.T
        with torch.no_grad():
            x.add_(1.0)
            x[0] = 0.0
        d = torch.randn(4, 3, dtype=torch.float64) * torch.randn(3, dtype=torch.float64)
    """,
}


class TestNoFalsePositives:
    """Correct loops in several styles raise no warning, no error and no info from these checks."""

    @pytest.mark.parametrize("name", sorted(CLEAN_LOOPS))
    def test_clean_loop(self, write_script, name):
        trace = run_checked(write_script(CLEAN_LOOPS[name]))
        assert trace.completed, trace.exception
        mine = [f for f in trace.flags if f.code in ERROR_CODES]
        assert mine == []
        assert [f for f in trace.flags if f.severity != "info"] == []


class TestNaming:
    """The naming helper reads variables without running any of the user's code."""

    def test_resolve_reads_chains_but_never_runs_code(self):
        import ast

        import torch

        from tensorscope.checks.support.resolve import Unresolved
        from tensorscope.checks.support.resolve import resolve_expr as resolve

        calls = []

        class Box:
            def __init__(self):
                self.w = torch.ones(2)
                self.items = [torch.zeros(1)]

            @property
            def heavy(self):
                calls.append("property")
                return torch.ones(3)

            def __getattr__(self, name):
                calls.append(name)
                return torch.ones(4)

        model = torch.nn.Sequential(torch.nn.Linear(2, 3))
        scope = {"box": Box(), "model": model, "i": 0}

        def value(text):
            return resolve(ast.parse(text, mode="eval").body, scope)

        assert value("box.w") is scope["box"].w
        assert value("box.items[i]") is scope["box"].items[0]
        assert value("model[0].weight") is model[0].weight
        for text in ("box.heavy", "box.missing", "box.w.sum()", "box.w[0]", "len(box.items)"):
            with pytest.raises(Unresolved):
                value(text)
        assert calls == []

    def test_look_finds_the_names_of_a_multi_line_statement(self, tmp_path):
        import torch

        from tensorscope.checks.support.lines import look

        path = tmp_path / "multi.py"
        path.write_text("total = (\n    a\n    + b.weight\n)\n")

        class Ctx:
            def source_line(self, frame, line):
                return path.read_text().splitlines()[line - 1]

        a, b = torch.ones(2), torch.nn.Linear(2, 2)
        code = compile(path.read_text(), str(path), "exec")
        frames = []

        def grab(frame, event, arg):
            frames.append(frame)

        import sys

        namespace = {"a": a, "b": b}
        sys.settrace(lambda f, e, x: grab(f, e, x) if f.f_code is code else None)
        try:
            exec(code, namespace)
        finally:
            sys.settrace(None)
        view = look(Ctx(), frames[0], 3)
        assert view.text == "+ b.weight"
        assert [r.text for r in view.tensors()] == ["a", "b.weight"]
        assert view.name_of(b.weight) == "b.weight"


class TestCatalogue:
    """Every code of this file has an explanation in both languages, with the same placeholders."""

    def test_codes_are_registered_with_script_error_last(self):
        registered = codes()
        assert set(ERROR_CODES) <= set(registered)
        assert registered[-1] == "script-error"

    @pytest.mark.parametrize("key", [c for c in ERROR_CODES] + [k for k in VARIANTS if k[0] in ERROR_CODES],
                             ids=str)
    def test_entry_in_english_and_chinese(self, key):
        import string

        entry = CATALOGUE[key] if isinstance(key, str) else VARIANTS[key]
        for texts in (entry.title, entry.message, entry.cause, entry.fix):
            assert texts["en"] and texts["zh"] and texts["en"] != texts["zh"]
            fields = [{f for _, f, _, _ in string.Formatter().parse(texts[lang]) if f}
                      for lang in ("en", "zh")]
            assert fields[0] == fields[1]


class TestCheckCommand:
    """`tensorscope check`: readable report or the JSON contract, and the CI exit codes."""

    def test_json_contract_for_an_explained_error(self, write_script):
        path = write_script("""
            import torch
            print("starting")
            w = torch.randn(3, requires_grad=True)
            w -= 0.1
        """)
        proc = tensorscope_here("check", str(path), "--json")
        assert proc.returncode == 1, proc.stderr
        data = json.loads(proc.stdout)
        assert {"script", "completed", "exception", "stdout", "flags"} <= set(data)
        assert data["completed"] is False and data["stdout"] == "starting\n"
        assert data["exception"] == {
            "type": "RuntimeError",
            "message": "a leaf Variable that requires grad is being used in an in-place operation.",
            "line": 4,
        }
        assert len(data["flags"]) == 1
        flag = data["flags"][0]
        assert set(flag) == {"code", "severity", "line", "function", "message", "hint", "tensors"}
        assert (flag["code"], flag["severity"], flag["line"], flag["function"]) == \
            ("inplace-leaf", "error", 4, "<module>")
        assert flag["tensors"] == ["w"]

    def test_clean_script_exits_zero(self, write_script):
        path = write_script("""
            import torch
            w = torch.ones(2, requires_grad=True)
            (w * 3).sum().backward()
            print(w.grad.tolist())
        """)
        proc = tensorscope_here("check", str(path), "--json")
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["completed"] is True and data["exception"] is None and data["flags"] == []
        assert data["stdout"] == "[3.0, 3.0]\n"

    def test_info_only_exits_zero(self, write_script):
        path = write_script("""
            import numpy as np
            import torch
            x = torch.randn(4, 3)
            y = x * torch.from_numpy(np.ones(3))
        """)
        proc = tensorscope_here("check", str(path), "--json")
        assert proc.returncode == 0, proc.stderr
        assert [f["severity"] for f in json.loads(proc.stdout)["flags"]] == ["info"]

    def test_missing_script_exits_two(self, tmp_path):
        proc = tensorscope_here("check", str(tmp_path / "nope.py"))
        assert proc.returncode == 2 and "no such file" in proc.stderr

    def test_readable_report_groups_by_line_in_chinese(self, write_script):
        path = write_script("""
            import torch
            x = torch.randn(10, 3)
            w = torch.randn(10, 1)
            y = x @ w
        """)
        proc = tensorscope_here("check", str(path), "--lang", "zh")
        assert proc.returncode == 1
        out = proc.stdout
        assert "script.py:4: y = x @ w" in out
        assert "shape-mismatch" in out and "x 的形状是 10×3" in out and "修复" in out

    def test_scenario_flagged_at_its_line(self):
        if not (REPO / "scenarios" / "update_without_no_grad.py").exists():
            pytest.skip("scenario not written yet")
        proc = tensorscope_here("check", "scenarios/update_without_no_grad.py", "--json")
        assert proc.returncode == 1
        flags = json.loads(proc.stdout)["flags"]
        assert [f["code"] for f in flags] == ["inplace-leaf"] and "w" in flags[0]["tensors"]
