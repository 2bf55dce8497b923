"""float64 data: torch.tensor(np.random.rand(...)) keeps NumPy's float64."""
import numpy as np
import torch
from torch import nn

np.random.seed(0)
x = torch.tensor(np.random.rand(6, 2))
net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
out = net(x)  # <- dtype-mismatch
