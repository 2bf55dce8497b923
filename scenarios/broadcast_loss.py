"""Pitfall: N×1 predictions minus N targets silently broadcast to N×N: only the mean is learnt.

Watch in tensorscope: `y_pred` has shape 8×1 but `y` has shape 8, so at line 32
(`diff = y_pred - target`) `diff` comes out 8×8: every prediction minus every target. No error:
PyTorch broadcasts. tensorscope flags `broadcast-expand` (warning) at that line, naming `y_pred` (8×1),
`target` (8) and the 8×8 result. The loss stays high and the model only learns the mean of y:
compare the printed w with the true slope 3.
Fix (run with --fixed): make the target a column too, line 29 (`target = y.unsqueeze(1)`), so diff is 8×1.
"""

import sys

import torch
from torch import nn

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.linspace(-1.0, 1.0, 8).unsqueeze(1)   # inputs, a column: shape 8×1
y = 3 * x.squeeze(1) + 0.5                      # targets, a plain vector: shape 8 (datasets often give that)

model = nn.Linear(1, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

for step in range(20):
    optimizer.zero_grad()
    y_pred = model(x)                           # shape 8×1
    if FIXED:
        target = y.unsqueeze(1)                 # shape 8 -> 8×1: the same shape as y_pred
    else:
        target = y                              # bug: shape 8 against 8×1
    diff = y_pred - target                      # buggy: 8×8; fixed: 8×1
    loss = (diff ** 2).mean()
    loss.backward()
    optimizer.step()
    if (step + 1) % 5 == 0:
        print(f"Step {step + 1}, Loss: {loss.item():.4f}, diff shape: {tuple(diff.shape)}")

print(f"w = {model.weight.item():.4f} (true 3), b = {model.bias.item():.4f} (true 0.5)")
