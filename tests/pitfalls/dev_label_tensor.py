"""Device mismatch: the labels are built with torch.tensor(...) inside the loss call, on the CPU."""
# args: --simulate-cuda
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
model = nn.Linear(6, 3).to("cuda")
x = torch.randn(4, 6).to("cuda")
logits = model(x)
loss = F.cross_entropy(logits, torch.tensor([0, 2, 1, 0]))  # <- device-mismatch
loss.backward()
