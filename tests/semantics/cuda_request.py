"""Asking for CUDA: is_available() and a tensor moved to "cuda" answer exactly as under python."""
# flags without a GPU: cuda-unavailable
import torch

print("available:", torch.cuda.is_available())
try:
    torch.zeros(1).to("cuda")
except Exception as e:
    print(type(e).__name__, str(e).splitlines()[0])
print("devices:", torch.cuda.device_count())
