"""Backward twice: an RNN's hidden state carried across steps without .detach()."""
import torch
from torch import nn

torch.manual_seed(0)
cell = nn.RNNCell(3, 4)
opt = torch.optim.SGD(cell.parameters(), lr=0.01)
h = torch.zeros(2, 4)
for _step in range(3):
    opt.zero_grad()
    h = cell(torch.randn(2, 3), h)
    loss = h.pow(2).sum()
    loss.backward()  # <- backward-twice
    opt.step()
