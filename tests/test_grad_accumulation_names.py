"""grad-accumulation: named as the flagged line names the tensors, in its function; values with their own
labels; a GAN's generator loss in the discriminator's cleared grads says nothing, sampled or not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tensorscope.checks import default_checks
from tensorscope.checks.grad_accumulation import held_text
from tensorscope.engine.session import Session
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag

Write = Callable[..., Path]
MODES = [pytest.param(False, id="check"), pytest.param(True, id="every-pass")]


def flags_of(path: Path, every_pass: bool) -> list[Flag]:
    """The grad-accumulation flags of `tensorscope check` (sampled passes) or `check --every-pass`."""
    session = Session(str(path), monitors=default_checks(), keep_steps=False)
    trace = session.run(every_pass=every_pass, timeout=120)
    assert session.internal_errors == []
    return [f for f in trace.flags if f.code == "grad-accumulation"]


def line_of(path: Path, marker: str) -> int:
    hits = [i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text]
    assert len(hits) == 1, hits
    return hits[0]


D2L_SGD = """
    import torch
    torch.manual_seed(0)
    X = torch.randn(8, 2)
    y = X @ torch.tensor([[2.0], [-3.4]]) + 4.2
    w = torch.zeros(2, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def net(X, w, b):
        return X @ w + b

    def loss(y_hat, y):
        return (y_hat - y) ** 2 / 2

    def sgd(params, lr):
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad

    for epoch in range({n}):
        l = loss(net(X, w, b), y)
        l.sum().backward()              # <- backward
        sgd([w, b], 0.03)
"""


@pytest.mark.parametrize("every_pass", MODES)
@pytest.mark.parametrize("epochs", [3, 40])
def test_update_in_a_function_is_named_at_the_module_level_backward(write_script: Write, every_pass: bool,
                                                                    epochs: int) -> None:
    path = write_script(D2L_SGD.format(n=epochs))
    (flag,) = flags_of(path, every_pass)
    assert (flag.severity, flag.line, flag.function, flag.file) == (
        "warning", line_of(path, "# <- backward"), "<module>", "")
    assert flag.tensors == ("w", "b")
    assert flag.message.startswith("w.grad, b.grad already held ‖w.grad‖=")
    assert ", b.grad=-" in flag.data["held"] and "params" not in flag.message and "‖·‖" not in flag.message


def test_both_languages_label_the_norm_and_the_number_apart(write_script: Write) -> None:
    path = write_script(D2L_SGD.format(n=3))
    (flag,) = flags_of(path, every_pass=True)
    zh = render(flag.code, "zh", flag.data)
    assert "w.grad, b.grad 里还留着" in zh.message and f"（{flag.data['held']}）" in zh.message
    assert "‖w.grad‖=" in zh.message and "b.grad=-" in zh.message and "params" not in zh.message


@pytest.mark.parametrize(("grads", "values", "text"), [
    (["w.grad", "b.grad"], ["‖·‖=2.828", "-2"], "‖w.grad‖=2.828, b.grad=-2"),
    (["w.grad", "b.grad"], ["3", "-2"], "3, -2"),
    (["a.grad", "b.grad"], ["‖·‖=1", "‖·‖=2"], "‖·‖=1, ‖·‖=2"),
    (["w.grad"], ["‖·‖=7.483"], "‖·‖=7.483"),
])
def test_held_text_never_puts_a_norm_and_a_number_under_one_label(grads: list[str], values: list[str],
                                                                   text: str) -> None:
    assert held_text(grads, values) == text


def test_a_function_backward_keeps_its_function_and_its_names(write_script: Write) -> None:
    path = write_script("""
        import torch

        def step(w, x):
            (w * x).sum().backward()        # <- backward
            with torch.no_grad():
                w -= 0.1 * w.grad

        weights = torch.ones(3, requires_grad=True)
        for i in range(3):
            step(weights, torch.tensor([1.0, 2.0, 3.0]))
    """)
    (flag,) = flags_of(path, every_pass=True)
    assert (flag.line, flag.function, flag.tensors) == (line_of(path, "# <- backward"), "step", ("w",))


GAN = """
    import torch
    from torch import nn
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    D = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
    bce = nn.BCELoss()
    opt_G = torch.optim.Adam(G.parameters(), lr=1e-3{opt})
    opt_D = torch.optim.Adam(D.parameters(), lr=1e-3{opt})
    ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)
    for it in range({n}):
        real = torch.randn(16, 2) + 3
        z = torch.randn(16, 4)
        {clear_d}
        d_loss = bce(D(real), ones) + bce(D(G(z).detach()), zeros)
        d_loss.backward()
        opt_D.step()
        {clear_g}
        g_loss = bce(D(G(z)), ones)
        g_loss.backward()                   # <- generator backward
        opt_G.step()
"""


@pytest.mark.parametrize("every_pass", MODES)
@pytest.mark.parametrize("iterations", [5, 40])
@pytest.mark.parametrize("opt", ["", ", fused=True"])
@pytest.mark.parametrize("clear_d", ["opt_D.zero_grad()", "D.zero_grad(set_to_none=False)"])
def test_gan_generator_step_says_nothing(write_script: Write, every_pass: bool, iterations: int, opt: str,
                                        clear_d: str) -> None:
    """The generator's loss adds into D's grads (stale: D stepped since); they are cleared before D's
    next step. Also with a fused optimizer (its step leaves `_version` alone) and in sampled passes."""
    path = write_script(GAN.format(n=iterations, opt=opt, clear_d=clear_d, clear_g="opt_G.zero_grad()"))
    assert flags_of(path, every_pass) == []


@pytest.mark.parametrize("every_pass", MODES)
@pytest.mark.parametrize("opt", ["", ", fused=True"])
def test_gan_without_the_generators_zero_grad_is_still_a_warning(write_script: Write, every_pass: bool,
                                                                  opt: str) -> None:
    path = write_script(GAN.format(n=40, opt=opt, clear_d="opt_D.zero_grad()", clear_g="pass"))
    (flag,) = flags_of(path, every_pass)
    assert (flag.severity, flag.line) == ("warning", line_of(path, "# <- generator backward"))
    assert set(flag.tensors) == {"G.0.weight", "G.0.bias", "G.2.weight", "G.2.bias"}


@pytest.mark.parametrize("every_pass", MODES)
def test_fused_optimizer_without_zero_grad_is_a_warning_not_an_info(write_script: Write,
                                                                     every_pass: bool) -> None:
    path = write_script("""
        import torch
        from torch import nn
        torch.manual_seed(0)
        model = nn.Linear(3, 1)
        opt = torch.optim.Adam(model.parameters(), lr=0.1, fused=True)
        x, y = torch.randn(8, 3), torch.randn(8, 1)
        for i in range(4):
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()                 # <- backward
            opt.step()
    """)
    (flag,) = flags_of(path, every_pass)
    assert (flag.severity, flag.line) == ("warning", line_of(path, "# <- backward"))
    assert "were updated since" in flag.message


@pytest.mark.parametrize("every_pass", MODES)
def test_long_micro_batch_accumulation_stays_an_info(write_script: Write, every_pass: bool) -> None:
    """100 micro-batches per update: in sampled passes the backward() calls between go unseen, which
    is no reason to call the sum stale."""
    path = write_script("""
        import torch
        from torch import nn
        torch.manual_seed(0)
        model = nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x, y = torch.randn(200, 2), torch.randn(200, 1)
        for epoch in range(3):
            for i in range(0, 200, 2):
                loss = ((model(x[i:i + 2]) - y[i:i + 2]) ** 2).mean() / 100
                loss.backward()             # <- backward
            opt.step()
            opt.zero_grad()
    """)
    flags = flags_of(path, every_pass)
    assert [(f.severity, f.line) for f in flags] == [("info", line_of(path, "# <- backward"))]
    assert flags[0].data["held"].startswith("‖model.weight.grad‖=")
    assert ", model.bias.grad=" in flags[0].data["held"]


@pytest.mark.parametrize("every_pass", MODES)
def test_dcgan_discriminator_real_and_fake_backward_is_an_info_with_fitting_advice(
        write_script: Write, every_pass: bool) -> None:
    """The DCGAN tutorial: errD_real.backward() then errD_fake.backward() sum on purpose (an info whose
    fix says such losses need no scaling); errG.backward() into netD's grads says nothing."""
    path = write_script("""
        import torch
        from torch import nn
        torch.manual_seed(0)
        netG = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        netD = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
        criterion = nn.BCELoss()
        optimizerG = torch.optim.Adam(netG.parameters(), lr=1e-3)
        optimizerD = torch.optim.Adam(netD.parameters(), lr=1e-3)
        label = torch.empty(16)
        for i in range(30):
            netD.zero_grad()
            label.fill_(1.0)
            errD_real = criterion(netD(torch.randn(16, 2) + 3).view(-1), label)
            errD_real.backward()
            fake = netG(torch.randn(16, 4))
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()).view(-1), label)
            errD_fake.backward()            # <- fake backward
            optimizerD.step()
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake).view(-1), label)
            errG.backward()
            optimizerG.step()
    """)
    (flag,) = flags_of(path, every_pass)
    assert (flag.severity, flag.line) == ("info", line_of(path, "# <- fake backward"))
    assert flag.tensors[:3] == ("netD.0.weight", "netD.0.bias", "netD.2.weight")
    assert "need no scaling" in render(flag.code, "en", flag.data).fix
    assert "不需要缩放" in render(flag.code, "zh", flag.data).fix


@pytest.mark.parametrize("every_pass", MODES)
def test_forgotten_zero_grad_with_a_long_loop_between_backward_and_step(write_script: Write,
                                                                       every_pass: bool) -> None:
    """Unobserved passes of an inner loop that touches no gradient do not hide the stale sum."""
    path = write_script("""
        import torch
        w = torch.ones(3, requires_grad=True)
        opt = torch.optim.SGD([w], lr=0.01)
        for epoch in range(3):
            (w * torch.tensor([1.0, 2.0, 3.0])).sum().backward()   # <- backward
            total = 0
            for i in range(100):
                total += i
            opt.step()
    """)
    (flag,) = flags_of(path, every_pass)
    assert (flag.severity, flag.line, flag.tensors) == ("warning", line_of(path, "# <- backward"), ("w",))
