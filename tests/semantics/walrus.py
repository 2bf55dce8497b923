"""The walrus operator: in a while loop, an if, and a comprehension (binding in the enclosing scope)."""
import torch

data = [torch.tensor(float(i)) for i in range(5)]
it = iter(data)
total = 0.0
while (t := next(it, None)) is not None:
    total += t.item()
print(total)
if (n := len(data)) > 3:
    print("long", n)
big = [y for x in data if (y := x.item() * 10) > 15]
print(big, y)
