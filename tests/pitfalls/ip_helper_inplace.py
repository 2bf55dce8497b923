"""In-place on a saved tensor in a helper: `t.div_(...)` on the output of torch.exp."""
import torch


def normalise_(t):
    t.div_(t.sum())  # <- inplace-saved-tensor


w = torch.randn(3, requires_grad=True)
p = torch.exp(w)
normalise_(p)
p.sum().backward()  # <- inplace-saved-tensor
