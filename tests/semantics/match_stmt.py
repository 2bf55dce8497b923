"""match statements: literal, sequence, mapping, class patterns with guards."""
from dataclasses import dataclass

import torch


@dataclass
class Batch:
    x: torch.Tensor
    size: int


def describe(item):
    match item:
        case 0 | 1:
            return "small int"
        case [first, *rest]:
            return f"list from {first} with {len(rest)} more"
        case {"lr": lr, **others}:
            return f"config lr={lr} others={sorted(others)}"
        case Batch(x=x, size=n) if n > 2:
            return f"big batch {tuple(x.shape)}"
        case Batch():
            return "small batch"
        case _:
            return "something else"


for thing in (1, [4, 5, 6], {"lr": 0.1, "wd": 0}, Batch(torch.ones(3, 2), 3), Batch(torch.ones(1), 1), "?"):
    print(describe(thing))
