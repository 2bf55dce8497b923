"""Benchmark workload: 50 tensors in scope while a loop changes a few of them on every line."""

import sys

import torch

torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
small = [torch.randn(4) for _ in range(20)]
big = [torch.randn(32, 32) for _ in range(20)]
(s00, s01, s02, s03, s04, s05, s06, s07, s08, s09,
 s10, s11, s12, s13, s14, s15, s16, s17, s18, s19) = small
(b00, b01, b02, b03, b04, b05, b06, b07, b08, b09,
 b10, b11, b12, b13, b14, b15, b16, b17, b18, b19) = big
w = torch.randn(32, 8, requires_grad=True)
bias = torch.zeros(8, requires_grad=True)
x = torch.randn(64, 32)
target = torch.randn(64, 8)
m0, m1, m2 = torch.ones(8), torch.zeros(8), torch.full((8,), 0.5)
del small, big
for step in range(steps):
    h = x @ w + bias
    err = h - target
    loss = (err ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.01 * w.grad
        bias -= 0.01 * bias.grad
    w.grad.zero_()
    bias.grad.zero_()
print(f"loss {loss.item():.4f}")
