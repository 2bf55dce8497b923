"""Benchmark workload: a small MLP (64-128-1) trained with SGD + momentum, batch 256."""

import os
import sys
import time

import torch
from torch import nn

torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
x = torch.randn(256, 64)
y = torch.randn(256, 1)
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.MSELoss()
opt.step()  # no gradients yet, so no change: the first step's one-off imports are startup
cpu0, wall0 = time.process_time(), time.perf_counter()  # the loop only: startup excluded
for step in range(steps):
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
loop_cpu, loop_wall = time.process_time() - cpu0, time.perf_counter() - wall0
if os.environ.get("TENSORSCOPE_BENCH_LOOP"):
    with open(os.environ["TENSORSCOPE_BENCH_LOOP"], "w") as out:
        out.write(f"{loop_cpu} {loop_wall}\n")
print(f"final loss {loss.item():.4f}")
