"""In-place on a saved tensor: sigmoid saves its output, `x += 1` changes it, backward() fails."""
import torch

torch.manual_seed(0)
w = torch.randn(3, 3, requires_grad=True)
z = torch.randn(2, 3) @ w
x = torch.sigmoid(z)
x += 1  # <- inplace-saved-tensor
loss = x.sum()
loss.backward()  # <- inplace-saved-tensor
