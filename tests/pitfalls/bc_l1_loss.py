"""Broadcast (N,1) vs (N,): F.l1_loss between a column of predictions and a vector of targets."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
model = nn.Linear(5, 1)
x = torch.randn(12, 5)
target = torch.randn(12)
pred = model(x)
loss = F.l1_loss(pred, target)  # <- broadcast-expand
loss.backward()
