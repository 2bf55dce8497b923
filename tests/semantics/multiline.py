"""Statements spanning several lines: calls, literals, backslashes, chained calls, conditions."""
import torch

w = torch.tensor(
    [[1.0, 2.0],
     [3.0, 4.0]],
    requires_grad=True,
)
config = {
    "lr": 0.1,
    "steps": 2,
}
total = 1 + \
    2 + \
    3
out = (w
       .mul(2)
       .sum())
if (total > 5
        and config["steps"] == 2):
    out.backward()
print(
    w.grad.tolist(),
    total,
    sep=" | ",
)
