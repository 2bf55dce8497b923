"""Broadcast (N,1) vs (N,): nn.MSELoss over model(x) and a 1-D target from a DataLoader."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
xs = torch.randn(24, 3)
ys = xs.sum(dim=1)
loader = DataLoader(TensorDataset(xs, ys), batch_size=8)
model = nn.Linear(3, 1)
criterion = nn.MSELoss()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for xb, yb in loader:
    opt.zero_grad()
    loss = criterion(model(xb), yb)  # <- broadcast-expand
    loss.backward()
    opt.step()
