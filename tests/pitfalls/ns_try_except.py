"""Non-scalar backward demonstrated in a try/except: the error is caught and printed."""
import torch

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
out = w * 2
try:
    out.backward()  # <- nonscalar-backward
except RuntimeError as exc:
    print("caught:", exc)
out.sum().backward()
print(w.grad)
