"""os._exit(4): the process ends at once with status 4; finally blocks and atexit do not run."""
import atexit
import os
import sys

import torch

atexit.register(print, "atexit never runs")
print("sum", torch.ones(3).sum().item(), flush=True)
print("to stderr", file=sys.stderr, flush=True)
try:
    os._exit(4)
finally:
    print("finally never runs")
