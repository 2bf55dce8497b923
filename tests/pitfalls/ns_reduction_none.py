"""Non-scalar backward: a loss module built with reduction='none' returns one loss per sample."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(5, 3)
criterion = nn.CrossEntropyLoss(reduction="none")
logits = model(torch.randn(4, 5))
loss = criterion(logits, torch.tensor([0, 1, 2, 1]))
loss.backward()  # <- nonscalar-backward
