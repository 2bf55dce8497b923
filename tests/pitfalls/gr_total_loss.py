"""Loss kept without .item(): `total_loss += loss` over a loop of batches keeps every graph alive."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
batches = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(6)]
total_loss = 0.0
for xb, yb in batches:
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(xb), yb)
    loss.backward()
    opt.step()
    total_loss += loss  # <- graph-retained
print(f"mean loss {total_loss.item() / len(batches):.4f}")
