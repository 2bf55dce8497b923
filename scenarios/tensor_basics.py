"""Tensor basics: create, index, reshape/view/squeeze/unsqueeze, cat/split, CPU or GPU, the NumPy bridge.

Watch in tensorscope: the Tensors pane fills one line at a time. `x` is a 2×3 float32 tensor
(line 15 (`x = torch.arange`)); `flat` is a view of `x`, so the write at line 31 (`flat[0] = 100.0`)
changes `x` too (both versions go up); `col` gains a dimension with unsqueeze and `back` loses it again;
`device` is "cuda" only when a GPU is there; `from_np` shares memory with the NumPy array `arr`, so the
write at line 46 (`arr[0] = -1.0`) shows up in `from_np`. Nothing is flagged: this scenario is clean.
"""

import numpy as np
import torch

torch.manual_seed(0)

x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
zeros = torch.zeros(2, 3)
r = torch.rand(3)
print("x =", x.tolist(), "shape:", tuple(x.shape), "dtype:", x.dtype)
print("r =", [round(v, 4) for v in r.tolist()])

first_row = x[0]                 # indexing: a row
last_col = x[:, -1]              # slicing: the last column
print("x[0] =", first_row.tolist(), " x[:, -1] =", last_col.tolist())

flat = x.view(6)                 # a view: same memory, new shape
x_t = x.reshape(3, 2)            # reshape: a view when possible, else a copy
col = r.unsqueeze(1)             # shape 3 -> 3×1
back = col.squeeze(1)            # shape 3×1 -> 3
print("shapes:", tuple(flat.shape), tuple(x_t.shape), tuple(col.shape), tuple(back.shape))

flat[0] = 100.0                  # writing into the view changes x as well
print("after flat[0] = 100: x[0, 0] =", x[0, 0].item())

both = torch.cat([x, zeros], dim=0)          # shape 4×3
top, bottom = torch.split(both, 2, dim=0)    # two pieces of shape 2×3
print("cat:", tuple(both.shape), "split:", tuple(top.shape), tuple(bottom.shape))

device = "cuda" if torch.cuda.is_available() else "cpu"
x_dev = x.to(device)
total = x_dev.sum().item()
print("sum on the", device, "device:", total)

arr = np.array([1.0, 2.0, 3.0])
from_np = torch.from_numpy(arr)  # shares memory with arr, keeps NumPy's float64
to_np = x.numpy()                # shares memory with x (CPU tensors only)
arr[0] = -1.0
print("from_np:", from_np.tolist(), from_np.dtype, " to_np[0, 0]:", to_np[0, 0])
