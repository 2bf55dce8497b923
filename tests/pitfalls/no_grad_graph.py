"""No graph: the loss is computed under torch.no_grad(), then backward() is called."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(3, 1)
x, y = torch.randn(6, 3), torch.randn(6, 1)
with torch.no_grad():
    loss = nn.functional.mse_loss(model(x), y)
loss.backward()  # <- no-grad-graph
