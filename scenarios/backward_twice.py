"""Pitfall: a second backward() through a graph whose saved tensors the first backward() freed.

Watch in tensorscope: two losses share `h = torch.tanh(x @ w)`. Line 27 (`loss_a.backward()`) works and
frees the values that graph saved (tanh's output among them). Line 28 (`loss_b.backward()`) must go back
through tanh and raises PyTorch's "Trying to backward through the graph a second time", flagged
`backward-twice` (error), naming `loss_b`.
Fix (run with --fixed): one backward through the sum, line 25 (`(loss_a + loss_b).backward()`);
`retain_graph=True` on the first call also works but keeps those values alive.
"""

import sys

import torch

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
w = torch.randn(2, 1, requires_grad=True)

h = torch.tanh(x @ w)            # shared by both losses; tanh saves h for backward
loss_a = h.mean()
loss_b = (h ** 2).mean()
if FIXED:
    (loss_a + loss_b).backward()   # one backward: the graph is walked once
else:
    loss_a.backward()
    loss_b.backward()            # bug: the shared part of the graph was already freed
print("w.grad:", [round(g, 4) for g in w.grad.flatten().tolist()])
