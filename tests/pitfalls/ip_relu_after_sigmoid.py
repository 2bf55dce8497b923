"""In-place on a saved tensor: an nn.ReLU(inplace=True) overwrites a sigmoid's saved output."""
import torch
from torch import nn

torch.manual_seed(0)
lin = nn.Linear(4, 4)
act = nn.ReLU(inplace=True)
x = torch.randn(3, 4)
s = torch.sigmoid(lin(x)) - 0.5
h = torch.sigmoid(lin(x))
h = act(h)  # <- inplace-saved-tensor
loss = (h * s).sum()
loss.backward()  # <- inplace-saved-tensor
