"""Pitfall: updating the parameters outside torch.no_grad(), so autograd refuses the in-place change.

Watch in tensorscope: the loop is linreg.py's, but the update at line 31 (`w -= lr * w.grad`) runs with
grad mode ON (see the title bar). `w` is a leaf that requires grad, so changing it in place would have
to be recorded in the graph, and PyTorch raises "a leaf Variable that requires grad is being used in
an in-place operation." in the first epoch. tensorscope flags it `inplace-leaf` (error) at that line.
Fix (run with --fixed): do the update under `with torch.no_grad():`, line 27 (`with torch.no_grad():`).
"""

import sys

import torch

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
y = 2 * x + 1
w = torch.randn(1, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.05

for epoch in range(3):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()
    if FIXED:
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
    else:
        w -= lr * w.grad         # bug: grad mode is on, and w is a leaf that requires grad
        b -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
    print(f"Epoch {epoch + 1}, Loss: {loss.item():.4f}")
