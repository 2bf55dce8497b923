"""Context managers: exits in order, a suppressed exception, torch.no_grad and enable_grad."""
import contextlib

import torch


class Tag:
    def __init__(self, name, swallow=False):
        self.name, self.swallow = name, swallow

    def __enter__(self):
        print("enter", self.name)
        return self

    def __exit__(self, kind, value, tb):
        print("exit", self.name, kind.__name__ if kind else None)
        return self.swallow


with Tag("outer"), Tag("inner"):
    print("body")
with Tag("swallow", swallow=True):
    raise ValueError("hidden")
with contextlib.suppress(KeyError):
    {}["missing"]
w = torch.ones(2, requires_grad=True)
with torch.no_grad():
    y = w * 2
    with torch.enable_grad():
        z = w * 3
print(y.requires_grad, z.requires_grad, torch.is_grad_enabled())
with contextlib.ExitStack() as stack:
    stack.callback(print, "callback ran")
    print("in stack")
