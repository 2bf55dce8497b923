"""Pitfall: the model is moved to the GPU but the batch is left on the CPU (use --simulate-cuda on a laptop).

Run it as `tensorscope run device_mismatch --simulate-cuda` on a machine without a GPU; it needs CUDA
(under plain python with a CPU-only PyTorch, line 21 (`model = nn.Linear(3, 1).to(device)`) fails with
"Torch not compiled with CUDA enabled", flagged `cuda-unavailable`).
Watch in tensorscope: the device column shows model.weight and model.bias on cuda:0 while `x` and `y`
stay on cpu. Line 29 (`y_pred = model(x)`) raises PyTorch's "Expected all tensors to be on the same
device" and is flagged `device-mismatch` (error), naming `x` (cpu) and the model's parameters (cuda:0).
Fix (run with --fixed): move the batch to the model's device with .to(device), line 26 (`x = x.to(device)`).
"""

import sys

import torch
from torch import nn

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

device = torch.device("cuda")
model = nn.Linear(3, 1).to(device)                # the parameters now live on the GPU

x = torch.randn(4, 3)                             # a batch made on the CPU...
y = torch.randn(4, 1)
if FIXED:
    x = x.to(device)                              # ...moved to the model's device
    y = y.to(device)

y_pred = model(x)                                 # bug: x is on the CPU, the weights on the GPU
loss = ((y_pred - y) ** 2).mean()
loss.backward()
print(f"Loss: {loss.item():.4f}")
print("y_pred is on", y_pred.device, "and model.weight.grad on", model.weight.grad.device)
