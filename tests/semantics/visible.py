"""What the script can see of the interpreter and of torch is what plain python shows it."""
import os
import signal
import sys
import warnings

import torch
import torch.nn.functional as F
from torch import nn

print(nn.Module.__call__ is nn.Module._wrapped_call_impl)
print(torch.autograd.backward.__module__, torch.Tensor.backward.__module__)
print(F.mse_loss.__module__, F.cross_entropy.__module__, torch.Tensor.__add__.__qualname__)
print(os._exit.__module__, signal.signal.__module__, warnings.showwarning.__module__)
print(torch.optim.SGD.step.__qualname__, torch.optim.Adam.zero_grad.__qualname__)
print(type(sys.stdout).__name__, type(sys.stderr).__name__, sys.stdout.isatty(), sys.stdout.encoding)
print(torch.is_grad_enabled(), torch.overrides.has_torch_function((torch.ones(1),)))
