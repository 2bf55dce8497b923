"""float64 data: a DataLoader over a TensorDataset of float64 tensors feeding a float32 model."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
xs = torch.randn(32, 4, dtype=torch.float64)
ys = torch.randn(32, 1, dtype=torch.float64)
loader = DataLoader(TensorDataset(xs, ys), batch_size=8)
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for xb, yb in loader:
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(xb), yb)  # <- dtype-mismatch
    loss.backward()
    opt.step()
