"""Forgotten zero_grad: the training step is a method of a Trainer class."""
import torch
from torch import nn


class Trainer:
    def __init__(self, model, lr):
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=lr)
        self.loss_fn = nn.MSELoss()

    def train_step(self, x, y):
        loss = self.loss_fn(self.model(x), y)
        loss.backward()  # <- grad-accumulation
        self.opt.step()
        return loss.item()


torch.manual_seed(0)
x = torch.randn(32, 4)
y = x.sum(dim=1, keepdim=True)
trainer = Trainer(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), lr=0.01)
for _step in range(4):
    last = trainer.train_step(x, y)
print(round(last, 4))
