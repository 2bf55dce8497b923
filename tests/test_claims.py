"""What the explanations say about PyTorch, run against the installed torch (one test per claim)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tensorscope.explain.catalogue import CATALOGUE, VARIANTS

F32 = torch.ones(2, 3)
F64 = torch.ones(2, 3, dtype=torch.float64)


def cause(code: str, variant: str | None = None, lang: str = "en") -> str:
    entry = VARIANTS[(code, variant)] if variant else CATALOGUE[code]
    return entry.cause[lang]


def test_matmul_and_layers_need_one_dtype_while_some_losses_promote():
    text = cause("dtype-mismatch")
    assert "Matrix products and layers" in text and "mse_loss and l1_loss" in text
    for op in (lambda: F32 @ F64.T, lambda: F.linear(F64, torch.ones(4, 3)),
               lambda: F.conv1d(torch.ones(1, 1, 5, dtype=torch.float64), torch.ones(1, 1, 3))):
        with pytest.raises(RuntimeError):
            op()
    for loss in (F.mse_loss, F.l1_loss):
        assert loss(F32, F64).dtype == torch.float64


def test_cross_entropy_takes_probabilities_and_nll_loss_never_does():
    assert "nll_loss never does" in cause("dtype-mismatch", "target")
    probs = torch.softmax(F32, dim=1)
    assert F.cross_entropy(F32, probs).dtype == torch.float32
    for target in (torch.zeros(2), probs):
        with pytest.raises(RuntimeError):
            F.nll_loss(F32, target)


def test_log_and_sqrt_at_zero_and_below():
    assert "sqrt(0) is 0, but its gradient is inf" in cause("nan-inf")
    x = torch.tensor([0.0, -1.0], requires_grad=True)
    logs, roots = torch.log(x.detach()), torch.sqrt(x.detach())
    assert logs[0] == -torch.inf and logs[1].isnan()
    assert roots[0] == 0 and roots[1].isnan()
    torch.sqrt(x[:1]).sum().backward()
    assert x.grad is not None and x.grad[0] == torch.inf


def test_backward_frees_saved_tensors_but_not_the_chain_of_nodes():
    assert "backward() frees the tensors that graph saved" in cause("graph-retained")
    w = torch.ones(3, requires_grad=True)
    loss = ((w * 2).sigmoid() ** 2).sum()
    node = loss.grad_fn.next_functions[0][0]  # PowBackward0, which saved its input
    assert node._saved_self is not None
    loss.backward()
    with pytest.raises(RuntimeError, match="freed"):
        node._saved_self  # noqa: B018 - the saved tensor is gone
    assert loss.grad_fn.next_functions[0][0] is node  # the node itself is still reachable


def test_zh_says_the_same_numbers():
    assert "sqrt(0) 等于 0" in cause("nan-inf", lang="zh")
    assert "nll_loss 则从不接受" in cause("dtype-mismatch", "target", lang="zh")
    assert "mse_loss 和 l1_loss" in cause("dtype-mismatch", lang="zh")


def test_a_second_backward_fails_on_freed_saved_values_not_on_freed_tensors():
    message = VARIANTS[("backward-twice", "shared")].message["en"]
    assert "already freed the values that part of the graph saved" in message
    w = torch.ones(3, requires_grad=True)
    h = (w * 2).sigmoid()
    loss_a, loss_b = (h * 3).sum(), (h * 4).sum()
    loss_a.backward()
    with pytest.raises(RuntimeError, match="Saved intermediate values of the graph are freed"):
        loss_b.backward()
    assert h.sum().item() > 0  # h itself is alive and readable


def test_unsqueeze_last_gives_a_last_dimension_of_one():
    fix = VARIANTS[("shape-mismatch", "linear")].fix["en"]
    assert "(N,) for a layer that takes one feature becomes (N, 1)" in fix
    assert torch.ones(5).unsqueeze(-1).shape == (5, 1)
    assert torch.nn.Linear(1, 2)(torch.ones(5).unsqueeze(-1)).shape == (5, 2)
