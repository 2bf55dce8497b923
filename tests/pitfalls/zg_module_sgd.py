"""Forgotten zero_grad: an nn.Module trained with optim.SGD, the optimizer never cleared."""
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(16, 3)
y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for _epoch in range(5):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()  # <- grad-accumulation
    opt.step()
print(round(loss.item(), 4))
