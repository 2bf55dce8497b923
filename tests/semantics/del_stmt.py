"""del of a local, a dict item, a list slice, an attribute and a tensor: later use raises."""
import torch


class Box:
    pass


box = Box()
box.t = torch.ones(2)
items = {"a": 1, "b": 2}
values = list(range(6))
x = torch.zeros(3)
del items["a"], values[1:3]
del box.t
print(items, values, hasattr(box, "t"))
del x
try:
    print(x)
except NameError as exc:
    print("NameError:", exc)


def local_del():
    y = torch.ones(1)
    del y
    return "y" in locals()


print(local_del())
