"""Pitfall: calling backward() on a loss that is still one value per sample, not a scalar.

Watch in tensorscope: `loss` has shape 4×1, one squared error per sample, because the .mean() was
forgotten. Line 26 (`loss.backward()`) raises PyTorch's "grad can be implicitly created only for
scalar outputs" and is flagged `nonscalar-backward` (error), naming `loss` and its shape.
Fix (run with --fixed): reduce to a scalar first, line 25 (`loss = loss.mean()`); or, when a
non-scalar is meant, pass `gradient=` as in nonscalar_backward.py.
"""

import sys

import torch

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
y = 2 * x + 1
w = torch.randn(1, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)

y_pred = x @ w + b
loss = (y_pred - y) ** 2         # bug: .mean() forgotten, shape 4×1
if FIXED:
    loss = loss.mean()           # a scalar: backward() needs no gradient argument
loss.backward()
print(f"w.grad: {w.grad.item():.4f}, b.grad: {b.grad.item():.4f}")
