"""Linear regression y = 2x + 1 by manual SGD: forward, loss, backward, update under no_grad, zero the grads.

Watch in tensorscope, in every epoch:
- line 28 (`loss.backward()`): w.grad (1×1) and b.grad (shape 1) are written;
- line 31 (`w -= lr * w.grad`) under torch.no_grad(): w changes in place (its version goes up) and
  still has no grad_fn; b follows on the next line;
- line 34 (`w.grad.zero_()`): the grads go back to zero, ready for the next backward();
- the Output pane: the loss falls epoch after epoch while w moves towards 2 and b towards 1.
Nothing is flagged: this scenario is clean (compare forgot_zero_grad.py and update_without_no_grad.py).
"""

import torch

torch.manual_seed(0)

x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])   # 4 samples, 1 feature: shape 4×1
y = 2 * x + 1                                     # the targets, shape 4×1

w = torch.randn(1, 1, requires_grad=True)         # the parameters: leaves that require grad
b = torch.zeros(1, requires_grad=True)
lr = 0.05

for epoch in range(5):
    y_pred = x @ w + b                            # forward
    loss = ((y_pred - y) ** 2).mean()             # mean squared error, a scalar

    # backward: fills w.grad and b.grad
    loss.backward()

    with torch.no_grad():                         # the update itself must not be recorded
        w -= lr * w.grad
        b -= lr * b.grad

    w.grad.zero_()                                # otherwise the next backward() adds to these
    b.grad.zero_()
    print(f"Epoch {epoch + 1}, Loss: {loss.item():.4f}")

print(f"w = {w.item():.4f}, b = {b.item():.4f}")
