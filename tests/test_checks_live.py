"""The live pitfall checks: each flags its mistake at the line where it happens, and stays silent on
correct code; with them on, scripts print, compute and raise exactly as under plain python."""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from forked_python import forked_python

from tensorscope.checks import default_checks
from tensorscope.engine.session import Session
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag, Trace

LIVE_CODES = {"grad-accumulation", "inplace-saved-tensor", "broadcast-expand", "graph-retained", "nan-inf",
              "non-leaf-grad"}


def run(path: Path, record: bool = False) -> tuple[Trace, Session]:
    session = Session(str(path), monitors=default_checks())
    trace = session.record(timeout=120) if record else session.run(timeout=120)
    assert session.internal_errors == []
    return trace, session


def line_of(path: Path, marker: str) -> int:
    """The line number of the only line containing `marker`."""
    hits = [i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text]
    assert len(hits) == 1, f"{marker!r} found on lines {hits}"
    return hits[0]


def flags_of(trace: Trace, code: str) -> list[Flag]:
    return [f for f in trace.flags if f.code == code]


def serious(trace: Trace) -> list[Flag]:
    return [f for f in trace.flags if f.severity in ("warning", "error")]


def last_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def assert_transparent(path: Path, trace: Trace) -> None:
    """Same stdout as plain python, and the same exception (type and message) if there is one."""
    plain = forked_python(path)
    assert trace.stdout == plain.stdout
    if plain.returncode == 0:
        assert trace.exception is None
    else:
        assert trace.exception is not None
        assert last_error_line(plain.stderr) == f"{trace.exception.type}: {trace.exception.message}"


Write = Callable[..., Path]


# --- grad-accumulation ---------------------------------------------------------------------------------

class TestGradAccumulation:
    def test_forgotten_zero_grad_on_manual_leaves_is_one_warning(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            torch.manual_seed(0)
            x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
            y = 2 * x + 1
            w = torch.randn(1, 1, requires_grad=True)
            b = torch.zeros(1, requires_grad=True)
            for epoch in range(5):
                loss = ((x @ w + b - y) ** 2).mean()
                loss.backward()          # <- backward
                with torch.no_grad():
                    w -= 0.05 * w.grad
                    b -= 0.05 * b.grad
                print(round(loss.item(), 4))
        """)
        trace, _ = run(path)
        flags = flags_of(trace, "grad-accumulation")
        assert len(flags) == 1
        flag = flags[0]
        assert (flag.severity, flag.line) == ("warning", line_of(path, "# <- backward"))
        assert flag.tensors == ("w", "b")
        assert "w.grad, b.grad already held" in flag.message
        assert "updated since" in flag.message
        held = flag.data["held"].split(", ")[0]
        assert float(held) != 0.0  # the value w.grad held, as a number
        assert_transparent(path, trace)

    def test_the_held_value_is_the_gradient_before_this_backward(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.tensor([2.0], requires_grad=True)
            (w * 3).sum().backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
            (w * 5).sum().backward()     # <- second
            with torch.no_grad():
                w -= 0.1 * w.grad
            print(w.grad.item())
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "grad-accumulation")
        assert flag.line == line_of(path, "# <- second")
        assert flag.data["held"] == "3"
        assert flag.message.startswith("w.grad already held 3 from an earlier backward() and w was updated")

    def test_module_and_optimizer_without_zero_grad(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(3, 1)

                def forward(self, x):
                    return self.fc(x)

            def train_step(net, opt, x, y):
                loss = nn.functional.mse_loss(net(x), y)
                loss.backward()                  # <- backward
                opt.step()
                return loss.item()

            torch.manual_seed(0)
            net = Net()
            opt = torch.optim.Adam(net.parameters(), lr=0.01)
            x, y = torch.randn(16, 3), torch.randn(16, 1)
            for _ in range(3):
                train_step(net, opt, x, y)
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "grad-accumulation")
        assert (flag.severity, flag.line, flag.function) == ("warning", line_of(path, "# <- backward"),
                                                             "train_step")
        assert set(flag.tensors) == {"net.fc.weight", "net.fc.bias"}

    def test_a_trainer_class_names_its_model_parameters(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn

            class Trainer:
                def __init__(self, model):
                    self.model = model
                    self.optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

                def fit(self, x, y, epochs):
                    for epoch in range(epochs):
                        loss = nn.functional.mse_loss(self.model(x), y)
                        loss.backward()                    # <- backward
                        self.optimizer.step()

            torch.manual_seed(0)
            Trainer(nn.Sequential(nn.Linear(3, 1))).fit(torch.randn(8, 3), torch.randn(8, 1), 3)
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "grad-accumulation")
        assert (flag.severity, flag.line) == ("warning", line_of(path, "# <- backward"))
        assert flag.tensors == ("self.model.0.weight", "self.model.0.bias")

    def test_gan_generator_loss_into_discriminator_grads_is_not_a_mistake(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn
            torch.manual_seed(0)
            G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
            D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
            opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
            opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
            bce = nn.BCEWithLogitsLoss()
            ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)
            for step in range(4):
                fake = G(torch.randn(16, 2))
                opt_d.zero_grad()
                loss_d = bce(D(torch.randn(16, 2) + 3), ones) + bce(D(fake.detach()), zeros)
                loss_d.backward()
                opt_d.step()
                opt_g.zero_grad()
                loss_g = bce(D(fake), ones)      # also adds into D's (stale) grads: cleared before D's step
                loss_g.backward()
                opt_g.step()
            print(round(loss_d.item(), 4), round(loss_g.item(), 4))
        """)
        trace, _ = run(path)
        assert trace.flags == ()
        assert_transparent(path, trace)

    @pytest.mark.parametrize("zeroing", [
        "opt.zero_grad()",
        "opt.zero_grad(set_to_none=False)",
        "model.zero_grad()",
        "model.zero_grad(set_to_none=False)",
        "[p.grad.zero_() for p in model.parameters() if p.grad is not None]",
        "[setattr(p, 'grad', None) for p in model.parameters()]",
    ])
    def test_every_way_of_zeroing_is_silent(self, write_script: Write, zeroing: str) -> None:
        path = write_script(f"""
            import torch
            from torch import nn
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            x, y = torch.randn(32, 4), torch.randn(32, 1)
            for step in range(4):
                {zeroing}
                loss = ((model(x) - y) ** 2).mean()
                loss.backward()
                opt.step()
        """)
        trace, _ = run(path)
        assert trace.flags == ()

    def test_manual_zeroing_and_none_and_autograd_backward(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.ones(2, requires_grad=True)
            b = torch.zeros(1, requires_grad=True)
            x = torch.tensor([1.0, 2.0])
            for i in range(3):
                loss = (w * x).sum() + b.sum()
                torch.autograd.backward(loss)
                with torch.no_grad():
                    w -= 0.1 * w.grad
                    b -= 0.1 * b.grad
                w.grad.zero_()
                b.grad = None
        """)
        trace, _ = run(path)
        assert trace.flags == ()

    def test_torch_autograd_backward_without_zeroing_warns(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.ones(2, requires_grad=True)
            x = torch.tensor([1.0, 2.0])
            for i in range(3):
                torch.autograd.backward([(w * x).sum()])   # <- backward
                with torch.no_grad():
                    w.sub_(0.1 * w.grad)
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "grad-accumulation")
        assert (flag.severity, flag.line, flag.tensors) == ("warning", line_of(path, "# <- backward"), ("w",))

    def test_update_through_data_is_seen(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.ones(3, requires_grad=True)
            x = torch.tensor([1.0, -2.0, 0.5])
            for i in range(3):
                loss = ((w * x).sum() - 1) ** 2
                loss.backward()                 # <- backward
                w.data -= 0.01 * w.grad.data
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "grad-accumulation")
        assert flag.severity == "warning"

    def test_flag_shows_as_soon_as_the_stale_sum_is_used(self, write_script: Write) -> None:
        """Stepping over a training function, the warning is on the step after its second call (the
        first update that used a stale sum), not one iteration later at the next backward()."""
        path = write_script("""
            import torch

            def train_step(w):
                loss = (w * 3).sum()
                loss.backward()                 # <- backward
                with torch.no_grad():
                    w -= 0.1 * w.grad
                print(f"loss {loss.item():.2f}")

            w = torch.ones(2, requires_grad=True)
            for epoch in range(3):
                train_step(w)
        """)
        session = Session(str(path), monitors=default_checks(), stop_on_flags=True)
        session.start()
        session.wait(10)
        shown = []
        while (step := session.command("next", 10)) is not None and step.event != "end":
            shown.append(step)
        session.join(5)
        flagged = [s for s in shown if any(f.code == "grad-accumulation" for f in s.flags)]
        assert len(flagged) == 1
        assert flagged[0].stdout == "loss 4.20\n"  # printed by the second call
        assert flagged[0].flags[0].line == line_of(path, "<- backward")

    def test_micro_batch_accumulation_is_info_only_once_per_line(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn
            torch.manual_seed(0)
            model = nn.Linear(2, 1)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            x, y = torch.randn(8, 2), torch.randn(8, 1)
            for epoch in range(3):
                for i in range(0, 8, 2):
                    loss = ((model(x[i:i + 2]) - y[i:i + 2]) ** 2).mean() / 4
                    loss.backward()            # <- backward
                opt.step()
                opt.zero_grad()
        """)
        trace, _ = run(path)
        flags = flags_of(trace, "grad-accumulation")
        assert [(f.severity, f.line) for f in flags] == [("info", line_of(path, "# <- backward"))]
        assert set(flags[0].tensors) == {"model.weight", "model.bias"}
        assert "not updated since" in flags[0].message
        assert serious(trace) == []

    def test_explanations_in_both_languages(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.tensor([1.0], requires_grad=True)
            for i in range(2):
                (w * 2).sum().backward()
                with torch.no_grad():
                    w -= w.grad
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "grad-accumulation")
        zh = render(flag.code, "zh", flag.data)
        assert "w.grad" in zh.message and "更新" in zh.message
        assert zh.fix and zh.cause and zh.title


# --- inplace-saved-tensor ------------------------------------------------------------------------------

class TestInplaceSavedTensor:
    def test_still_flagged_with_many_freed_graphs_in_scope(self, write_script: Write) -> None:
        """A running sum keeps every pass's graph alive after backward() freed it (`total += loss`, itself
        an in-place line probed each pass): the probe learns those are freed, and still finds the tensor
        a live graph saved."""
        path = write_script("""
            import torch
            w = torch.ones(3, requires_grad=True)
            total = 0
            for i in range(30):
                loss = (w * 2).sum()
                loss.backward()
                total += loss
            h = w.sigmoid()
            out = (h * 3).sum()
            h.mul_(2)                  # <- inplace (the script's last line)
        """)
        trace, _ = run(path)
        flags = flags_of(trace, "inplace-saved-tensor")
        assert [(f.severity, f.line, f.tensors) for f in flags] == [
            ("warning", line_of(path, "# <- inplace"), ("h",))]

    def test_flagged_at_the_inplace_line_then_the_failure_once(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            torch.manual_seed(0)
            x = torch.randn(4, 3)
            w = torch.randn(3, 2, requires_grad=True)

            def hidden(inp):
                return torch.sigmoid(inp @ w)

            h = hidden(x)
            h.mul_(2)                  # <- inplace
            loss = h.sum()
            loss.backward()            # <- backward
        """)
        trace, _ = run(path)
        flags = flags_of(trace, "inplace-saved-tensor")
        assert [(f.severity, f.line) for f in flags] == [
            ("warning", line_of(path, "# <- inplace")), ("error", line_of(path, "# <- backward"))]
        warning, error = flags
        assert warning.tensors == ("h",) and error.tensors == ("h",)
        assert "h was saved by SigmoidBackward0" in warning.message and "h.mul_(2)" in warning.message
        assert "h.mul_(2)" in error.message and f"line {warning.line}" in error.message
        assert flags_of(trace, "script-error") == []
        assert_transparent(path, trace)

    def test_augmented_assignment_in_a_loop_body(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            a = torch.linspace(-1, 1, 5, requires_grad=True)
            for i in range(2):
                e = a.exp()
                e += 1                  # <- inplace
                try:
                    e.sum().backward()
                except RuntimeError as err:
                    print("caught:", err)
        """)
        trace, _ = run(path)
        flags = flags_of(trace, "inplace-saved-tensor")
        # the caught error is explained once (the loop's second pass catches it the same way)
        assert [f.severity for f in flags] == ["warning", "error"]
        assert flags[0].line == line_of(path, "# <- inplace")
        assert "ExpBackward0" in flags[0].message
        assert flags[1].line == line_of(path, "e.sum().backward()")
        assert flags[1].message.endswith(f"(caught at line {line_of(path, 'except RuntimeError')})")
        assert_transparent(path, trace)

    def test_setitem_and_custom_function_outputs(self, write_script: Write) -> None:
        path = write_script("""
            import torch

            class Square(torch.autograd.Function):
                @staticmethod
                def forward(ctx, a):
                    ctx.save_for_backward(a)
                    return a * a

                @staticmethod
                def backward(ctx, g):
                    (a,) = ctx.saved_tensors
                    return 2 * a * g

            w = torch.ones(4, requires_grad=True)
            z = torch.tanh(w * 2)
            z[0] = 0                      # <- setitem
            base = w + 1
            sq = Square.apply(base)
            base.clamp_(max=1.5)          # <- clamp
            try:
                sq.sum().backward()
            except RuntimeError as err:
                print(type(err).__name__)
        """)
        trace, _ = run(path)
        flags = flags_of(trace, "inplace-saved-tensor")
        assert [(f.line, f.tensors, f.data["saver"]) for f in flags if f.severity == "warning"] == [
            (line_of(path, "# <- setitem"), ("z",), "TanhBackward0"),
            (line_of(path, "# <- clamp"), ("base",), "SquareBackward")]
        # the caught error, at the line that raised it: the user's backward() reading its saved tensor
        [error] = [f for f in flags if f.severity == "error"]
        assert error.line == line_of(path, "ctx.saved_tensors") and error.data["caught"] == str(
            line_of(path, "except RuntimeError"))
        assert_transparent(path, trace)

    def test_error_texts_are_pytorchs_own(self, write_script: Write) -> None:
        path = write_script("""
            import warnings
            import torch
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            x = torch.randn(3, 2)
            w = torch.randn(2, 2, requires_grad=True)

            class Exp(torch.autograd.Function):
                @staticmethod
                def forward(ctx, a):
                    r = a.exp()
                    ctx.save_for_backward(r)
                    return r

                @staticmethod
                def backward(ctx, g):
                    (r,) = ctx.saved_tensors
                    return g * r

            def output_saved():
                h = torch.tanh(x @ w)
                h[0].mul_(2)
                h.sum().backward()

            def input_saved_then_rebased():
                h = (x @ w) + 1
                z = h * w[:1]
                h.mul_(2)
                z.sum().backward()

            def data_saved():
                xx = x.clone()
                y = xx @ w
                xx.add_(1)
                y.sum().backward()

            def custom_function():
                h = Exp.apply(x @ w)
                h.mul_(2)
                h.sum().backward()

            def scalar():
                h = (x @ w).sum()
                z = h * h
                h.mul_(2)
                z.backward()

            def with_anomaly_mode():
                with torch.autograd.set_detect_anomaly(True):
                    h = torch.sigmoid(x @ w)
                    h += 1
                    h.sum().backward()

            def twice():
                loss = torch.sigmoid(x @ w).sum()
                loss.backward()
                loss.backward()

            for case in (output_saved, input_saved_then_rebased, data_saved, custom_function, scalar,
                         with_anomaly_mode, twice):
                try:
                    case()
                    print(case.__name__, "ran")
                except RuntimeError as err:
                    print(case.__name__, type(err).__name__, err)
        """)
        trace, _ = run(path)
        assert trace.stdout.count("modified by an inplace operation") == 6
        assert_transparent(path, trace)

    def test_correct_scripts_compute_bit_identical_gradients(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn
            from torch.utils.checkpoint import checkpoint
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(inplace=True), nn.Linear(16, 16), nn.Tanh(),
                                  nn.BatchNorm1d(16), nn.Linear(16, 1), nn.Sigmoid())
            x, y = torch.randn(32, 5), torch.rand(32, 1)
            opt = torch.optim.Adam(model.parameters(), lr=0.01)
            for step in range(3):
                opt.zero_grad()
                out = model(x)
                loss = nn.functional.binary_cross_entropy(out, y)
                extra = checkpoint(lambda t: (t.exp() * t).mean(), out, use_reentrant=False)
                (loss + extra).backward()
                print([p.grad.flatten().tolist() for p in model.parameters()])
                opt.step()
            print([p.flatten().tolist() for p in model.parameters()])
        """)
        trace, _ = run(path)
        assert trace.flags == ()
        assert_transparent(path, trace)  # every float printed in full: bit-identical grads and params

    def test_torch_func_transforms_still_run(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch.func import grad, jacrev, vmap
            x = torch.linspace(0, 1, 4)
            f = lambda t: (t.sin() * t).sum()
            print(grad(f)(x).tolist())
            print(vmap(grad(f))(x.reshape(2, 2)).tolist())
            print(jacrev(torch.sin)(x).diagonal().tolist())
            h = torch.sigmoid(x.requires_grad_())
            h *= 2                      # <- inplace
            print(grad(f)(x.detach()).tolist())
            h.sum().backward()          # <- backward
        """)
        trace, _ = run(path)
        assert_transparent(path, trace)
        flags = flags_of(trace, "inplace-saved-tensor")
        assert [(f.severity, f.line) for f in flags] == [
            ("warning", line_of(path, "# <- inplace")), ("error", line_of(path, "# <- backward"))]

    def test_relu_inplace_and_updates_of_parameters_are_not_flagged(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(inplace=True), nn.Linear(8, 1))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            x, y = torch.randn(10, 3), torch.randn(10, 1)
            for step in range(3):
                out = model(x)
                val = model(x * 2)          # a graph never used for backward, kept alive
                loss = ((out - y) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()                  # changes weights that `val`'s graph saved
        """)
        trace, _ = run(path)
        assert trace.flags == ()

    def test_nothing_left_installed_after_the_run(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            y = torch.ones(3, requires_grad=True) * 2
        """)
        before = (torch.autograd.backward, torch.Tensor.__dict__.get("__sub__"),
                  torch.nn.functional.mse_loss, torch.autograd.graph.disable_saved_tensors_hooks)
        run(path)
        after = (torch.autograd.backward, torch.Tensor.__dict__.get("__sub__"),
                 torch.nn.functional.mse_loss, torch.autograd.graph.disable_saved_tensors_hooks)
        assert before == after
        assert torch._C._autograd._top_saved_tensors_default_hooks(True) is None


# --- broadcast-expand ------------------------------------------------------------------------------------

class TestBroadcastExpand:
    def test_model_output_minus_vector_target(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn
            torch.manual_seed(0)
            x = torch.randn(8, 1)
            y = 3 * x.squeeze(1)
            model = nn.Linear(1, 1)
            for step in range(3):
                loss = ((model(x) - y) ** 2).mean()     # <- here
                loss.backward()
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "broadcast-expand")
        assert (flag.severity, flag.line) == ("warning", line_of(path, "# <- here"))
        assert flag.data["col_shape"] == "8×1" and flag.data["vec_shape"] == "8"
        assert flag.data["out_shape"] == "8×8"
        assert flag.data["expr"] == "model(x) - y"
        assert "y" in flag.tensors
        assert_transparent(path, trace)

    def test_named_operands_in_a_function(self, write_script: Write) -> None:
        path = write_script("""
            import torch

            def loss_fn(pred, target):
                err = target - pred       # <- here
                return (err * err).mean()

            pred = torch.randn(5, 1, requires_grad=True)
            target = torch.randn(5)
            print(loss_fn(pred, target).shape)
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "broadcast-expand")
        assert flag.line == line_of(path, "# <- here") and flag.function == "loss_fn"
        assert set(flag.tensors) == {"pred", "target"}
        assert flag.message.startswith(
            "`target - pred`: pred (shape 5×1) and target (shape 5) broadcast to 5×5")

    def test_mse_loss_with_mismatched_shapes(self, write_script: Write) -> None:
        path = write_script("""
            import warnings
            import torch
            from torch import nn
            warnings.simplefilter("ignore")
            pred = torch.randn(6, 1)
            y = torch.randn(6)
            criterion = nn.MSELoss()
            loss = criterion(pred, y)          # <- here
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "broadcast-expand")
        assert flag.line == line_of(path, "# <- here")
        assert flag.data["expr"] == "mse_loss(pred, y)"

    def test_deliberate_outer_products_and_matching_shapes_are_silent(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            a, b = torch.randn(6), torch.randn(6)
            d1 = a[:, None] - b[None, :]
            d2 = a.unsqueeze(1) * b.unsqueeze(0)
            d3 = a[:, None] - a
            col = torch.randn(6, 1)
            ok = col - b.unsqueeze(1)
            ok2 = col.squeeze(1) - b
            scaled = col * 2.0
            table = torch.randn(6, 6) - torch.randn(6)
            print(d1.shape, d2.shape, d3.shape, ok.shape, ok2.shape, scaled.shape, table.shape)
        """)
        trace, _ = run(path)
        assert trace.flags == ()


# --- graph-retained ---------------------------------------------------------------------------------------

class TestGraphRetained:
    def test_running_loss_tensor(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn
            torch.manual_seed(0)
            model = nn.Linear(4, 1)
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            x, y = torch.randn(16, 4), torch.randn(16, 1)
            total = 0
            for step in range(5):
                opt.zero_grad()
                loss = ((model(x) - y) ** 2).mean()
                loss.backward()
                opt.step()
                total += loss                 # <- here
            print(f"{total.item() / 5:.4f}")
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "graph-retained")
        assert (flag.severity, flag.line) == ("warning", line_of(path, "# <- here"))
        assert flag.tensors == ("total", "loss")
        assert flag.data["fixed"] == "total += loss.item()"
        assert_transparent(path, trace)

    def test_losses_list_in_a_function(self, write_script: Write) -> None:
        path = write_script("""
            import torch

            def fit(w, x, y, steps):
                history = []
                for _ in range(steps):
                    loss = ((x * w - y) ** 2).mean()
                    loss.backward()
                    with torch.no_grad():
                        w -= 0.1 * w.grad
                        w.grad = None
                    history.append(loss)       # <- here
                return history

            hist = fit(torch.zeros(1, requires_grad=True), torch.arange(4.0), torch.arange(4.0) * 2, 4)
            print(len(hist))
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "graph-retained")
        assert (flag.line, flag.function) == (line_of(path, "# <- here"), "fit")
        assert flag.data["fixed"] == "history.append(loss.item())"

    def test_statement_over_several_lines_and_list_concatenation(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.ones(2, requires_grad=True)
            total, seen = 0, []
            for i in range(3):
                loss = (w * i).sum()
                loss.backward()
                total = (total +        # <- sum
                         loss)
                seen += [loss]          # <- list
                w.grad = None
        """)
        trace, _ = run(path)
        flags = flags_of(trace, "graph-retained")
        assert [(f.line, f.tensors[0]) for f in flags] == [
            (line_of(path, "# <- sum"), "total"), (line_of(path, "# <- list"), "seen")]
        assert flags[0].data["code"] == "total = total + loss"

    def test_item_detach_and_summed_losses_are_silent(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn
            torch.manual_seed(0)
            rnn = nn.RNNCell(3, 4)
            head = nn.Linear(4, 1)
            opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=0.01)
            seq, target = torch.randn(6, 2, 3), torch.randn(6, 2, 1)
            running, history, kept = 0.0, [], []
            for epoch in range(3):
                h = torch.zeros(2, 4)
                loss = 0
                for t in range(6):                   # BPTT: sum, then one backward()
                    h = rnn(seq[t], h)
                    loss = loss + ((head(h) - target[t]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                running += loss.item()
                history.append(loss.item())
                kept.append(loss.detach())
            print(round(running, 4), len(history), len(kept))
        """)
        trace, _ = run(path)
        assert trace.flags == ()


# --- nan-inf --------------------------------------------------------------------------------------------

class TestNanInf:
    def test_diverging_manual_sgd(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            x = torch.linspace(0, 10, 8)
            y = 2 * x + 1
            w = torch.zeros(1, requires_grad=True)
            for step in range(60):
                loss = ((x * w - y) ** 2).mean()       # <- loss
                loss.backward()
                with torch.no_grad():
                    w -= 1.0 * w.grad                   # <- update
                    w.grad.zero_()
        """)
        trace, _ = run(path)
        flags = flags_of(trace, "nan-inf")
        by_name = {f.tensors[0]: f for f in flags}
        assert by_name["loss"].line == line_of(path, "# <- loss")
        assert by_name["w"].line == line_of(path, "# <- update")
        assert all(f.severity == "warning" for f in flags)
        assert len(flags) == len(by_name)  # once per name

    def test_log_of_zero_names_the_variable_and_line(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            probs = torch.tensor([0.5, 0.0, 0.5])
            for i in range(3):
                logp = torch.log(probs)             # <- here
            print(logp)
        """)
        trace, _ = run(path)
        (flag,) = flags_of(trace, "nan-inf")
        assert (flag.line, flag.tensors) == (line_of(path, "# <- here"), ("logp",))
        assert flag.data["what"] == "Inf" and flag.data["count"] == "1"


# --- non-leaf-grad --------------------------------------------------------------------------------------

class TestNonLeafGrad:
    def test_reading_grad_of_an_intermediate(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            x = torch.ones(3, requires_grad=True)
            y = x * 2
            y.sum().backward()
            print(x.grad)
            print(y.grad)          # <- here
        """)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trace, _ = run(path)
        (flag,) = flags_of(trace, "non-leaf-grad")
        assert (flag.severity, flag.line, flag.tensors) == ("info", line_of(path, "# <- here"), ("y",))
        assert "MulBackward0" in flag.message
        plain = forked_python(path)
        assert trace.stdout == plain.stdout
        # PyTorch's own warning, once, as under plain python: none added by the check
        assert plain.stderr.count("not a leaf Tensor") == 1
        assert [str(w.message)[:40] for w in caught] == [
            "The .grad attribute of a Tensor that is "]

    def test_retain_grad_is_silent(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            x = torch.ones(3, requires_grad=True)
            y = x * 2
            y.retain_grad()
            y.sum().backward()
            print(y.grad, x.grad)
        """)
        trace, _ = run(path)
        assert trace.flags == ()


# --- no false positives, transparency ---------------------------------------------------------------------

CLEAN = {
    "linreg_manual_sgd": """
        import torch
        torch.manual_seed(0)
        X = torch.randn(50, 1)
        Y = 3 * X + 2
        w = torch.zeros(1, 1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        for epoch in range(20):
            pred = X @ w + b
            loss = ((pred - Y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
                b -= 0.1 * b.grad
                w.grad.zero_()
                b.grad.zero_()
            if epoch % 5 == 0:
                print(epoch, loss.item())
        print(w.item(), b.item())
    """,
    "optimizers_and_validation": """
        import torch
        from torch import nn
        torch.manual_seed(0)
        xs, ys = torch.randn(64, 4), torch.randint(0, 3, (64,))
        xv, yv = torch.randn(16, 4), torch.randint(0, 3, (16,))
        for make in (lambda p: torch.optim.SGD(p, lr=0.1),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
                     lambda p: torch.optim.Adam(p, lr=0.01),
                     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)):
            model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(inplace=True), nn.Dropout(0.1), nn.Linear(16, 3))
            opt = make(model.parameters())
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
            for epoch in range(4):
                model.train()
                for i in range(0, 64, 16):
                    opt.zero_grad()
                    logits = model(xs[i:i + 16])
                    loss = nn.functional.cross_entropy(logits, ys[i:i + 16])
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    opt.step()
                sched.step()
                model.eval()
                with torch.no_grad():
                    val = nn.functional.cross_entropy(model(xv), yv)
                    acc = (model(xv).argmax(1) == yv).float().mean()
            print(type(opt).__name__, round(val.item(), 4), round(acc.item(), 4))
    """,
    "class_model_column_targets": """
        import torch
        from torch import nn

        class Regressor(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(2, 8), nn.Tanh())
                self.head = nn.Linear(8, 1)

            def forward(self, x):
                return self.head(self.body(x))

        def evaluate(model, x, y):
            with torch.no_grad():
                return nn.functional.mse_loss(model(x), y).item()

        torch.manual_seed(1)
        x = torch.randn(40, 2)
        y = (x[:, :1] * 2 - x[:, 1:]).view(-1, 1)
        model = Regressor()
        opt = torch.optim.RMSprop(model.parameters(), lr=0.01)
        losses = []
        for step in range(30):
            pred = model(x)
            loss = nn.functional.mse_loss(pred, y)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        print(round(evaluate(model, x, y), 5), len(losses))
    """,
}


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_scripts_have_no_warning_or_error_and_are_transparent(write_script: Write, name: str) -> None:
    path = write_script(textwrap.dedent(CLEAN[name]))
    trace, _ = run(path)
    assert serious(trace) == []
    assert [f for f in trace.flags if f.code in LIVE_CODES] == []
    assert trace.completed
    assert_transparent(path, trace)


def test_flags_also_appear_on_recorded_steps(write_script: Write) -> None:
    path = write_script("""
        import torch
        p = torch.tensor([0.0, 1.0])
        q = torch.log(p)
        r = q * 2
    """)
    trace, _ = run(path, record=True)
    flags = flags_of(trace, "nan-inf")
    assert [(f.line, f.tensors) for f in flags] == [(3, ("q",)), (4, ("r",))]
    stepped = [f for step in trace.steps for f in step.flags if f.code == "nan-inf"]
    assert stepped[0] == flags[0]  # shown at the step after line 3 ran
