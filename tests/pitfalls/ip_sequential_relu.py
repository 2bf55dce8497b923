"""In-place on a saved tensor inside library code: nn.Sigmoid then nn.ReLU(inplace=True) in a Sequential."""
import torch
from torch import nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.ReLU(inplace=True))
out = net(torch.randn(2, 4))
loss = out.sum()
loss.backward()  # <- inplace-saved-tensor
