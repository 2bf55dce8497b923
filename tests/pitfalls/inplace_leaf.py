"""In-place on a leaf: `w += 1` on a tensor that requires grad, outside torch.no_grad()."""
import torch

w = torch.zeros(3, requires_grad=True)
w += 1  # <- inplace-leaf
