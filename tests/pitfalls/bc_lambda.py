"""Broadcast (N,1) vs (N,): the loss is a lambda."""
import torch

torch.manual_seed(0)
w = torch.randn(3, 1, requires_grad=True)
x = torch.randn(10, 3)
y = torch.randn(10)
loss_fn = lambda p, t: ((p - t) ** 2).mean()  # <- broadcast-expand # noqa: E731
loss = loss_fn(x @ w, y)
loss.backward()
