"""Gradient accumulation on purpose: backward() on several micro-batches, then one step(), then zero_grad().

Watch in tensorscope: inside one batch, each line 30 (`loss.backward()`) adds into model.weight.grad
and model.bias.grad. That is intended here: each micro-batch loss is divided by `accum_steps`, so the
sum of the four gradients is the gradient of the whole batch. tensorscope notes it as
`grad-accumulation` at severity info only, because no parameter was updated between those backward()
calls (compare forgot_zero_grad.py, where it is a warning). Line 32 (`optimizer.step()`) then updates
once and line 33 (`optimizer.zero_grad()`) clears the grads for the next batch. No warning or error.
"""

import torch
from torch import nn

torch.manual_seed(0)

x = torch.randn(8, 2)                          # one batch of 8 samples...
y = x @ torch.tensor([[1.0], [-1.0]]) + 0.5    # ...and its targets, shape 8×1

model = nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
accum_steps = 4                                # 4 micro-batches of 2 samples each

for epoch in range(4):
    batch_loss = 0.0
    for start in range(0, 8, 2):
        x_mb, y_mb = x[start:start + 2], y[start:start + 2]
        y_pred = model(x_mb)
        loss = ((y_pred - y_mb) ** 2).mean() / accum_steps
        batch_loss += loss.item()              # .item(): a number, not a tensor with a graph
        loss.backward()                        # adds into .grad: no zero_grad() in between, on purpose
    # one update for the whole batch, then clear the grads for the next one
    optimizer.step()
    optimizer.zero_grad()
    print(f"Epoch {epoch + 1}, Loss: {batch_loss:.4f}")
