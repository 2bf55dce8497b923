"""Pitfall: the data has 3 features but the model's first layer expects 4: "shapes cannot be multiplied".

Watch in tensorscope: `x` has shape 8×3; model.0.weight has shape 16×4, because
nn.Linear(in_features=4, ...) stores an out×in weight. Line 27 (`y_pred = model(x)`) raises
PyTorch's "mat1 and mat2 shapes cannot be multiplied (8x3 and 4x16)", flagged `shape-mismatch`
(error): x's last dimension (3) must equal the layer's in_features (4).
Fix (run with --fixed): take the size from the data, line 23 (`n_features = x.shape[1]`).
"""

import sys

import torch
from torch import nn

FIXED = "--fixed" in sys.argv
torch.manual_seed(0)

x = torch.randn(8, 3)                   # 8 samples with 3 features each
y = torch.randn(8, 1)

n_features = 4                          # bug: a hard-coded size that does not match the data
if FIXED:
    n_features = x.shape[1]             # 3, read from the data itself

model = nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, 1))

y_pred = model(x)                       # buggy: x (shape 8×3) cannot meet a weight made for 4 features
loss = ((y_pred - y) ** 2).mean()
loss.backward()
print(f"Loss: {loss.item():.4f}, y_pred shape: {tuple(y_pred.shape)}")
