"""Decorators: plain, with arguments, functools.wraps, on a class, stacked, torch.no_grad as one."""
import functools

import torch

calls = []


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        calls.append(fn.__name__)
        return fn(*args, **kwargs)
    return wrapper


def times(n):
    def deco(fn):
        def wrapper(x):
            for _ in range(n):
                x = fn(x)
            return x
        return wrapper
    return deco


@logged
@times(3)
def grow(t):
    return t * 2


frozen = torch.no_grad()(lambda t: t * 2)
Model = functools.total_ordering(type("Model", (torch.nn.Module,), {"__lt__": lambda s, o: False}))
print(grow(torch.ones(2)).tolist(), calls, grow.__name__, Model() >= Model(), frozen.__name__)
print(frozen(torch.ones(1, requires_grad=True)).requires_grad)
