"""Pitfall: an in-place op overwrites a tensor autograd saved for backward, so backward() fails.

Watch in tensorscope: `h = torch.sigmoid(x @ w)` saves its output `h`, because the gradient of
sigmoid is h * (1 - h). Line 26 (`h *= 2`) changes `h` in place (its version goes from 0 to 1) and is
flagged `inplace-saved-tensor` (warning) right there, before anything fails. Then line 28
(`loss.backward()`) raises PyTorch's "one of the variables needed for gradient computation has been
modified by an inplace operation", flagged `inplace-saved-tensor` (error) with the same explanation.
Fix (run with --fixed): line 24 (`h = h * 2`) is out of place: it makes a new tensor and leaves the
saved one untouched.
"""

import sys

import torch

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
w = torch.randn(2, 1, requires_grad=True)

h = torch.sigmoid(x @ w)         # sigmoid saves h for its backward
if FIXED:
    h = h * 2                    # a new tensor: the saved h is untouched
else:
    h *= 2                       # bug: overwrites the very tensor sigmoid saved
loss = h.sum()
loss.backward()
print("w.grad:", [round(g, 4) for g in w.grad.flatten().tolist()])
