"""float64 data: a NumPy array (float64 by default) turned into a tensor with torch.from_numpy."""
import numpy as np
import torch
from torch import nn

rng = np.random.default_rng(0)
features = rng.normal(size=(10, 3))
x = torch.from_numpy(features)
model = nn.Linear(3, 1)
pred = model(x)  # <- dtype-mismatch
