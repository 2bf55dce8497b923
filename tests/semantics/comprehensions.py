"""Comprehensions of every kind: one step each, values as under python, locals() inside one."""
import torch


def scope_copy():
    a = torch.ones(2)
    b = 3
    d = {k: v for k, v in locals().items()}
    return sorted(d)


xs = torch.arange(6.0)
squares = [float(x) ** 2 for x in xs]
evens = {int(x) for x in xs if int(x) % 2 == 0}
named = {f"t{i}": float(x) for i, x in enumerate(xs)}
lazy = (x * 2 for x in xs)
first = next(lazy)
nested = [[i * j for j in range(3)] for i in range(3)]
flat = [v for row in nested for v in row if v]
big = [i * i for i in range(50)]
print(squares, sorted(evens), named, float(first))
print(nested, flat, sum(big))
print(scope_copy())
print(sum(x for x in range(10)), list(lazy)[:2])
