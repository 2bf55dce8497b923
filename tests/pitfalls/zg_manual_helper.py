"""Forgotten zero_grad: manual SGD, the update done in a helper function under torch.no_grad()."""
import torch

torch.manual_seed(0)
x = torch.randn(16, 2)
y = x @ torch.tensor([[2.0], [-1.0]]) + 0.5
w = torch.zeros(2, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


for _epoch in range(25):
    loss = ((x @ w + b - y) ** 2).mean()
    loss.backward()  # <- grad-accumulation
    sgd_step([w, b], lr)
print(round(loss.item(), 4))
