"""Benchmark workload: the classic `total += loss` bug, every iteration's graph kept alive by a running sum
(`graph-retained` flags it, so `check` exits 1)."""

import os
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
x = torch.randn(32, 10)
y = torch.randn(32, 1)
model = nn.Linear(10, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
opt.step()  # no gradients yet, so no change: the first step's one-off imports are startup
total = 0
cpu0, wall0 = time.process_time(), time.perf_counter()  # the loop only: startup excluded
for step in range(steps):
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    total += loss
loop_cpu, loop_wall = time.process_time() - cpu0, time.perf_counter() - wall0
if os.environ.get("TENSORSCOPE_BENCH_LOOP"):
    with open(os.environ["TENSORSCOPE_BENCH_LOOP"], "w") as out:
        out.write(f"{loop_cpu} {loop_wall}\n")
print(f"mean loss {total.item() / steps:.4f}")
