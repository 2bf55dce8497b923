"""Pitfall: a learning rate so large that every step overshoots; the loss explodes to inf, then nan.

Watch in tensorscope: the inputs go up to 100 and are not normalised, so the gradients are huge and
lr = 0.1 makes every step overshoot: model.weight swings from sign to sign, growing, and the loss in the
Output pane grows about 500000-fold per step. At step 7 `loss` becomes inf, flagged `nan-inf` (warning)
at line 32 (`loss = loss_fn(y_pred, y)`); the gradients and parameters follow, and at step 15 the loss
is nan. Each tensor is flagged the first time it holds inf or nan. PyTorch raises nothing.
Fix (run with --fixed): a learning rate the data can take, line 26 (`lr = 1e-4`); the loss then falls.
"""

import sys

import torch
from torch import nn

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.linspace(0.0, 100.0, 8).unsqueeze(1)  # raw inputs up to 100, not normalised
y = 2 * x + 1

model = nn.Linear(1, 1)
loss_fn = nn.MSELoss()
lr = 0.1                                        # bug: far too large for inputs this size
if FIXED:
    lr = 1e-4
optimizer = torch.optim.SGD(model.parameters(), lr=lr)

for step in range(20):
    optimizer.zero_grad()
    y_pred = model(x)
    loss = loss_fn(y_pred, y)
    loss.backward()
    optimizer.step()
    print(f"Step {step + 1}, Loss: {loss.item():.4g}")
    if torch.isnan(loss):
        print("The loss is nan: training has diverged.")
        break
