"""The small manual-SGD linear regression the TUI tests step through (one script, its lines named)."""

LINREG = """
import torch

x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
y = 2 * x + 1
w = torch.zeros(1, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for epoch in range(5):
    y_pred = x @ w + b
    loss = ((y_pred - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.05 * w.grad
        b -= 0.05 * b.grad
    w.grad.zero_()
    b.grad.zero_()
    print(f"Epoch {epoch + 1}")
print("done")
"""
LOOP_LINE = 8
"""The loop body's first line (`y_pred = x @ w + b`)."""
BACKWARD_LINE = 10
"""`loss.backward()`."""
UPDATE_LINE = 12
"""`w -= 0.05 * w.grad`."""
ZERO_LINE = 14
"""`w.grad.zero_()`."""
PRINT_LINE = 16
"""`print(f"Epoch {epoch + 1}")`."""
