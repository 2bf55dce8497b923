"""NaN from a too-large learning rate: the weights blow up to inf, then NaN."""
import torch

torch.manual_seed(0)
x = torch.randn(32, 4) * 10
y = x.sum(dim=1, keepdim=True)
w = torch.zeros(4, 1, requires_grad=True)
lr = 10.0
for _step in range(60):
    loss = ((x @ w - y) ** 2).mean()  # <- nan-inf
    loss.backward()  # <- nan-inf
    with torch.no_grad():
        w -= lr * w.grad  # <- nan-inf
        w.grad.zero_()
print(loss.item())
