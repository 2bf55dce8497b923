"""Forgotten zero_grad: `opt.zero_grad` written without its parentheses does nothing."""
import torch
from torch import nn

torch.manual_seed(0)
x, y = torch.randn(8, 3), torch.randn(8, 1)
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for _epoch in range(5):
    opt.zero_grad  # noqa: B018
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()  # <- grad-accumulation
    opt.step()
