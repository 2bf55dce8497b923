"""A warning PyTorch raises inside the user's F.mse_loss: python reports it at the user's line."""
# flags: broadcast-expand
import torch
import torch.nn.functional as F

pred = torch.zeros(3, 1)
target = torch.zeros(3)
loss = F.mse_loss(pred, target)
print(loss.item())
