"""zero_grad called, but on the other model's optimizer: the trained model's grads pile up."""
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(16, 3)
y = torch.randn(16, 1)
encoder = nn.Linear(3, 1)
critic = nn.Linear(3, 1)
enc_opt = torch.optim.SGD(encoder.parameters(), lr=0.05)
critic_opt = torch.optim.SGD(critic.parameters(), lr=0.05)
for _step in range(5):
    critic_opt.zero_grad()
    loss = nn.functional.mse_loss(encoder(x), y)
    loss.backward()  # <- grad-accumulation
    enc_opt.step()
print(round(loss.item(), 4))
