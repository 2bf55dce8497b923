"""In-place on a saved tensor inside a module's forward(): tanh's output is scaled in place."""
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = torch.tanh(self.fc(x))
        h *= 2  # <- inplace-saved-tensor
        return h


torch.manual_seed(0)
block = Block()
out = block(torch.randn(2, 4))
loss = out.pow(2).sum()
loss.backward()  # <- inplace-saved-tensor
