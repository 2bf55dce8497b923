"""`.grad` of a non-leaf: the hidden activation keeps no gradient."""
import torch

torch.manual_seed(0)
w = torch.randn(3, 2, requires_grad=True)
hidden = torch.randn(4, 3) @ w
loss = hidden.relu().sum()
loss.backward()
print(hidden.grad)  # <- non-leaf-grad
