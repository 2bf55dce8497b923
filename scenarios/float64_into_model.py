"""Pitfall: NumPy data (float64) fed to a float32 model: "mat1 and mat2 must have the same dtype".

Watch in tensorscope: the dtype column. `data` comes from NumPy, whose default is float64, and
torch.from_numpy keeps it, so `x` is float64 while model.weight and model.bias are float32.
Line 30 (`y_pred = model(x)`) raises PyTorch's "mat1 and mat2 must have the same dtype, but got Double
and Float", flagged `dtype-mismatch` (error), naming `x` (float64) and model.weight (float32) rather
than PyTorch's mat1 and mat2.
Fix (run with --fixed): convert the data once, line 26 (`x = x.float()`) (or use `.to(torch.float32)`).
"""

import sys

import numpy as np
import torch
from torch import nn

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

data = np.linspace(0.0, 1.0, 12).reshape(6, 2)   # NumPy arrays are float64 by default
targets = data.sum(axis=1, keepdims=True)

x = torch.from_numpy(data)                        # still float64
y = torch.from_numpy(targets)
if FIXED:
    x = x.float()                                 # float32, like the model's weights
    y = y.float()

model = nn.Linear(2, 1)                           # float32 parameters
y_pred = model(x)                                 # bug: float64 input, float32 weights
loss = ((y_pred - y) ** 2).mean()
loss.backward()
print(f"Loss: {loss.item():.4f}, dtype: {y_pred.dtype}")
