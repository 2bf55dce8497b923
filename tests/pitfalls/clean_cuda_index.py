"""Clean under --simulate-cuda: a CPU index tensor and a 0-dim CPU scalar are allowed with CUDA tensors."""
# args: --simulate-cuda
import torch

h = torch.randn(4, 3, device="cuda")
sel = h[torch.arange(2)]
scaled = sel * torch.tensor(2.0)
print(scaled.shape)
