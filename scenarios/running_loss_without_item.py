"""Pitfall: `running_loss += loss` keeps every iteration's autograd graph alive; use loss.item().

Watch in tensorscope: `running_loss` starts as a float, but after line 33 (`running_loss += loss`) it is
a tensor with grad_fn AddBackward0 that links to every step's loss, so none of those graphs can be
freed: memory grows with every iteration of a real training loop. tensorscope flags
`graph-retained` (warning) at that line, naming `running_loss` and `loss`.
No error: the printed average is even right, which is why this bug lives long.
Fix (run with --fixed): add a plain number, line 31 (`running_loss += loss.item()`).
"""

import sys

import torch
from torch import nn

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.randn(16, 4)
y = x @ torch.randn(4, 1)
model = nn.Linear(4, 1)
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)

running_loss = 0.0
for step in range(10):
    optimizer.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    optimizer.step()
    if FIXED:
        running_loss += loss.item()   # a Python float: the graph can be freed
    else:
        running_loss += loss          # bug: a tensor that still holds the graph

print(f"Average loss: {running_loss / 10:.4f}")
print("running_loss is a", type(running_loss).__name__)
