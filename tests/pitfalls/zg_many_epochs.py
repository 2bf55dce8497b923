"""Forgotten zero_grad over 50 epochs: the check samples the loop's passes after the 20th."""
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(8, 2)
y = x[:, :1] - x[:, 1:]
model = nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.001)
for _epoch in range(50):
    pred = model(x)
    loss = ((pred - y) ** 2).mean()
    loss.backward()  # <- grad-accumulation
    opt.step()
print(round(loss.item(), 4))
