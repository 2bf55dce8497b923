"""Closures, nonlocal and lambdas."""
import torch


def make_counter():
    count = 0

    def bump(step=1):
        nonlocal count
        count += step
        return count

    return bump


def make_scaler(factor):
    return lambda t: t * factor


bump = make_counter()
bump()
bump(5)
print("count", bump())
double = make_scaler(2)
print(double(torch.tensor([1.0, 2.0])).tolist())
adders = [lambda x, i=i: x + i for i in range(3)]
print([f(10) for f in adders])
print(sorted(["bb", "a", "ccc"], key=lambda s: -len(s)))
print(list(map(lambda v: v * v, filter(lambda v: v % 2, range(7)))))
print((lambda *a, **k: (a, sorted(k)))(1, 2, z=3, y=4))
print(bump.__closure__[0].cell_contents)
