"""Loss kept without .item(): a helper keeps the running sum in a dict entry."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x, y = torch.randn(10, 2), torch.randn(10, 1)
stats = {"loss": 0.0, "n": 0}


def record(stats, loss):
    stats["loss"] = stats["loss"] + loss  # <- graph-retained
    stats["n"] += 1


for _epoch in range(6):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    record(stats, loss)
print(stats["n"])
