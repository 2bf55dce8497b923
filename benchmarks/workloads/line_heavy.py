"""Benchmark workload: manual SGD on scalars, thousands of cheap iterations (many lines, tiny tensors)."""

import os
import sys
import time

import torch

torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
x = torch.linspace(0, 1, 8).unsqueeze(1)
y = 2 * x + 1
w = torch.zeros(1, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1
cpu0, wall0 = time.process_time(), time.perf_counter()  # the loop only: startup excluded
for step in range(steps):
    y_pred = x @ w + b
    loss = ((y_pred - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
loop_cpu, loop_wall = time.process_time() - cpu0, time.perf_counter() - wall0
if os.environ.get("TENSORSCOPE_BENCH_LOOP"):
    with open(os.environ["TENSORSCOPE_BENCH_LOOP"], "w") as out:
        out.write(f"{loop_cpu} {loop_wall}\n")
print(f"w {w.item():.3f} b {b.item():.3f}")
