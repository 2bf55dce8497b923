"""Backward twice: a second backward() through a graph whose saved tensors were freed."""
import torch

torch.manual_seed(0)
w = torch.randn(4, requires_grad=True)
h = torch.tanh(w * 3)
loss = h.sum()
loss.backward()
aux = (h ** 2).sum()
aux.backward()  # <- backward-twice
