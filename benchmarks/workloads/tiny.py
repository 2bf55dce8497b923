"""Benchmark workload: the smallest training-like loop, for long recorded histories (two lines a pass)."""

import sys

import torch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
w = torch.zeros(4, requires_grad=True)
x = torch.ones(4)
for i in range(steps):
    y = (w * x).sum()
print(f"y {y.item():.1f}")
