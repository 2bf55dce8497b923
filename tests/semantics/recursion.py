"""Recursion: a recursive function over tensors, mutual recursion, and a RecursionError caught."""
import torch


def power(t, n):
    if n == 0:
        return torch.ones_like(t)
    return t * power(t, n - 1)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def forever(n):
    return forever(n + 1)


print(power(torch.tensor([2.0, 3.0]), 5).tolist(), is_even(10), is_odd(7))
try:
    forever(0)
except RecursionError as exc:
    print("caught", type(exc).__name__)
