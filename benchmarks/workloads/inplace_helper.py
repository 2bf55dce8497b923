"""Benchmark workload: a helper masks a target in place (`y[:3] = -1`) thousands of times while a large
model's `loss`, with its whole graph and saved tensors, is in scope in the caller."""

import os
import sys
import time

import torch
from torch import nn


def masked(row: torch.Tensor) -> torch.Tensor:
    y = row.clone()
    y[:3] = -1
    return y


torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
layers: list[nn.Module] = []
for _ in range(48):
    layers += [nn.Linear(128, 128), nn.LayerNorm(128), nn.GELU()]
model = nn.Sequential(*layers, nn.Linear(128, 1))
x = torch.randn(64, 128)
loss = model(x).pow(2).mean()  # not backpropagated yet: its graph keeps every saved tensor
rows = torch.randint(0, 10, (100, 8))
kept = 0
cpu0, wall0 = time.process_time(), time.perf_counter()  # the loop only: startup excluded
for step in range(steps):
    y = masked(rows[step % 100])
    kept += int(y[3])
loop_cpu, loop_wall = time.process_time() - cpu0, time.perf_counter() - wall0
if os.environ.get("TENSORSCOPE_BENCH_LOOP"):
    with open(os.environ["TENSORSCOPE_BENCH_LOOP"], "w") as out:
        out.write(f"{loop_cpu} {loop_wall}\n")
loss.backward()
print(f"kept {kept}, loss {loss.item():.4f}")
