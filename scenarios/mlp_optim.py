"""A small nn.Module trained with torch.optim.SGD: zero_grad(), forward, loss, backward(), step().

Watch in tensorscope: the parameters appear as model.hidden.weight, model.hidden.bias, model.out.weight,
model.out.bias, and `optimizer` is summarised (SGD, lr, 4 params). In each step:
line 36 (`optimizer.zero_grad()`) clears every .grad (to None); step into line 37 (`y_pred = model(x)`) to
follow forward(); line 39 (`loss.backward()`) writes a .grad for every parameter; line 40
(`optimizer.step()`) changes the parameters. The loss in the Output pane falls.
Nothing is flagged: this scenario is clean.
"""

import torch
from torch import nn

torch.manual_seed(0)


class TinyMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 8)
        self.out = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.hidden(x))
        return self.out(h)


x = torch.randn(8, 3)                      # 8 samples, 3 features
y = x.sum(dim=1, keepdim=True)             # target: the sum of the features, shape 8×1

model = TinyMLP()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.MSELoss()

for step in range(8):
    optimizer.zero_grad()
    y_pred = model(x)
    loss = loss_fn(y_pred, y)
    loss.backward()
    optimizer.step()
    print(f"Step {step + 1}, Loss: {loss.item():.4f}")
