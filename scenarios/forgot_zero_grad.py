"""Pitfall: forgetting to zero the gradients, so every backward() adds onto the last epoch's .grad.

Watch in tensorscope: from epoch 2 on, line 30 (`loss.backward()`) is flagged `grad-accumulation`
(warning): w.grad and b.grad still hold the previous epoch's gradient and w and b were updated since,
so this backward() adds the new gradient to a stale one. Watch w.grad after each backward(): it is a
running sum of every epoch's gradient, so the updates overshoot and the loss swings up and down
instead of falling. PyTorch raises nothing: the script runs to the end, just wrong.
Fix (run with --fixed): zero the grads after each update, line 38 (`w.grad.zero_()`).
"""

import sys

import torch

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])   # shape 4×1
y = 2 * x + 1

w = torch.randn(1, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.05

for epoch in range(8):
    y_pred = x @ w + b
    loss = ((y_pred - y) ** 2).mean()

    # unless the grads are zeroed below (--fixed), backward() adds to the old ones
    loss.backward()

    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad

    print(f"Epoch {epoch + 1}, Loss: {loss.item():.4f}, w.grad: {w.grad.item():.4f}")
    if FIXED:
        w.grad.zero_()
        b.grad.zero_()
