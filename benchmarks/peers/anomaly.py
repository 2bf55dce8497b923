"""Run a script under PyTorch's anomaly mode: `python peers/anomaly.py SCRIPT [ARGS...]`."""

import runpy
import sys

import torch

if __name__ == "__main__":
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    with torch.autograd.set_detect_anomaly(True):
        runpy.run_path(script, run_name="__main__")
