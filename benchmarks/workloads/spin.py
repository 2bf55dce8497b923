"""Benchmark workload: runs until interrupted (a Python loop, or a long torch call with `matmul`)."""

import sys

import torch

if sys.argv[1:] == ["matmul"]:
    a = torch.randn(1500, 1500)
    while True:
        b = a @ a  # ~0.1-0.3 s a call on one CPU thread: Ctrl+C lands inside it
else:
    n = 0
    while True:
        n += 1
