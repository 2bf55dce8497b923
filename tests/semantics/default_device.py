"""torch.set_default_device("cpu"): factories follow it and the process exits cleanly."""
import torch

torch.set_default_device("cpu")
model = torch.nn.Linear(3, 2)
x = torch.ones(4, 3)
out = model(x)
out.sum().backward()
print(out.shape, x.device, model.weight.grad.shape)
print(torch.get_default_device())
