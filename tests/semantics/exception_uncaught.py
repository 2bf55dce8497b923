"""An uncaught exception after some output: the traceback goes to stderr, status 1."""
# flags: shape-mismatch
import sys

import torch


def step(t):
    return t.view(4, 4)


print("before")
print("to stderr", file=sys.stderr)
x = torch.arange(6.0)
step(x)
print("never printed")
