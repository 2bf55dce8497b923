"""Forgotten zero_grad: the loop runs over a DataLoader's batches."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
xs = torch.randn(64, 3)
ys = xs @ torch.tensor([[1.0], [2.0], [-1.0]])
loader = DataLoader(TensorDataset(xs, ys), batch_size=16, shuffle=True)
model = nn.Linear(3, 1)
opt = torch.optim.Adam(model.parameters(), lr=0.01)
loss_fn = nn.MSELoss()
for xb, yb in loader:
    loss = loss_fn(model(xb), yb)
    loss.backward()  # <- grad-accumulation
    opt.step()
print("done")
