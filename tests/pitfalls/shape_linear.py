"""Shape mismatch: 5 features fed to an nn.Linear that expects 4, inside an nn.Sequential."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
batch = torch.randn(3, 5)
logits = model(batch)  # <- shape-mismatch
