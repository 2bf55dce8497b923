"""In-place on a saved tensor: `h[:, 0] = 0` writes into exp's output, which exp's backward needs."""
import torch

torch.manual_seed(0)
w = torch.randn(3, 4, requires_grad=True)
x = torch.randn(2, 3)
h = torch.exp(x @ w)
h[:, 0] = 0  # <- inplace-saved-tensor
loss = h.mean()
loss.backward()  # <- inplace-saved-tensor
