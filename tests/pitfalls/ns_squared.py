"""Non-scalar backward: the squared error is never reduced to a scalar."""
import torch

torch.manual_seed(0)
x = torch.randn(8, 2)
y = torch.randn(8, 1)
w = torch.randn(2, 1, requires_grad=True)
pred = x @ w
loss = (pred - y) ** 2
loss.backward()  # <- nonscalar-backward
