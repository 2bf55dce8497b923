"""Pickle and torch.save of a class defined in __main__ round-trip."""
import io
import pickle

import torch


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return (self.x, self.y) == (other.x, other.y)


p = Point(1, torch.tensor([2.0]))
back = pickle.loads(pickle.dumps(p))
print(type(back).__module__, type(back).__qualname__, back.x, back.y.tolist())
buf = io.BytesIO()
torch.save({"point": Point(3, 4)}, buf)
buf.seek(0)
loaded = torch.load(buf, weights_only=False)
print(loaded["point"] == Point(3, 4), type(loaded["point"]) is Point)
