"""A @property and a __getattr__ that count their calls: tensorscope must never run them."""
import torch

counts = {"prop": 0, "getattr": 0}


class Holder:
    def __init__(self):
        self._t = torch.ones(3, requires_grad=True)

    @property
    def t(self):
        counts["prop"] += 1
        return self._t

    def __getattr__(self, name):
        counts["getattr"] += 1
        if name == "w":
            return self._t
        raise AttributeError(name)


h = Holder()
loss = (h.t * 2).sum()
loss.backward()
print(h.t.grad.tolist())
with torch.no_grad():
    h.t.sub_(0.1 * h.t.grad)
h.t.grad.zero_()
print(h.w.sum().item(), hasattr(h, "nothing"))
print(counts)
