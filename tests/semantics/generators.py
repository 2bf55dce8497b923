"""Generators: yield, yield from, send, close, a generator expression consumed lazily."""
import torch


def counter(n):
    for i in range(n):
        got = yield i
        if got is not None:
            print("sent", got)


def chain(a, b):
    yield from a
    yield from b


def closing():
    try:
        yield 1
        yield 2
    finally:
        print("generator closed")


gen = counter(4)
print(next(gen), gen.send("hi"), next(gen))
print(list(chain(range(2), "ab")))
c = closing()
print(next(c))
c.close()
seen = []
lazy = (seen.append(i) or torch.tensor(float(i)) for i in range(3))
print(len(seen), float(next(lazy)), len(seen))
print(sum(float(t) for t in lazy), len(seen))
