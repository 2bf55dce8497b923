"""Device mismatch: forward() creates a tensor without device=, so it lands on the CPU."""
# args: --simulate-cuda
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        h = self.fc(x)
        noise = torch.randn(h.shape[0], 2)
        return h + noise  # <- device-mismatch


torch.manual_seed(0)
device = torch.device("cuda")
model = Net().to(device)
x = torch.randn(5, 4, device=device)
out = model(x)
print(out.shape)
