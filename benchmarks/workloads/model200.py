"""Benchmark workload: a model with 200 parameter tensors (100 Linear layers) trained with SGD."""

import sys

import torch
from torch import nn

torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
model = nn.Sequential(*(nn.Linear(8, 8) for _ in range(100)))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(16, 8)
target = torch.randn(16, 8)
for step in range(steps):
    out = model(x)
    loss = ((out - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"loss {loss.item():.4f}")
