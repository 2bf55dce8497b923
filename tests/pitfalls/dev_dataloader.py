"""Device mismatch: the model is moved to CUDA, the DataLoader's batches stay on the CPU."""
# args: --simulate-cuda
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
loader = DataLoader(TensorDataset(torch.randn(32, 3), torch.randn(32, 1)), batch_size=8)
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).to("cuda")
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for xb, yb in loader:
    opt.zero_grad()
    out = model(xb)  # <- device-mismatch
    loss = nn.functional.mse_loss(out, yb)
    loss.backward()
    opt.step()
