"""Backward on a non-scalar output, done right: pass `gradient=` (the vector of a vector-Jacobian product).

Watch in tensorscope: `y = x * x` is a vector of shape 3, not a scalar, so backward() needs a
`gradient` of the same shape. Line 19 (`y.backward(gradient=torch.ones_like(y))`) gives x.grad = 2 * x,
exactly what y.sum().backward() gives (line 31 (`y.sum().backward()`)). Line 25
(`y.backward(gradient=v)`) weights each output: x.grad = 2 * x * v. Between the runs `x.grad = None`
starts afresh. Nothing is flagged: this scenario is clean (compare nonscalar_backward_error.py).
"""

import torch

torch.manual_seed(0)

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * x                        # dy_i/dx_i = 2 * x_i
print("y =", y.tolist(), " shape:", tuple(y.shape))

# y is not a scalar: say how to weight each of its elements
y.backward(gradient=torch.ones_like(y))
print("x.grad with gradient=ones:", x.grad.tolist())

x.grad = None                    # forget the previous gradient
y = x * x
v = torch.tensor([0.1, 1.0, 0.0001])
y.backward(gradient=v)
print("x.grad with gradient=v:", [round(g, 4) for g in x.grad.tolist()])

# the usual alternative: reduce to a scalar first
x.grad = None
y = x * x
y.sum().backward()
print("x.grad with y.sum().backward():", x.grad.tolist())
