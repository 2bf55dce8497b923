"""In-place on a saved tensor: F.relu(..., inplace=True) on a sigmoid's output."""
import torch
import torch.nn.functional as F

torch.manual_seed(0)
w = torch.randn(3, 3, requires_grad=True)
h = torch.sigmoid(torch.randn(4, 3) @ w)
F.relu(h, inplace=True)  # <- inplace-saved-tensor
loss = h.sum()
loss.backward()  # <- inplace-saved-tensor
