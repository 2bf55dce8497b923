"""Autograd basics: requires_grad, backward(), .grad, torch.no_grad(), zeroing gradients, detach().

Watch in tensorscope: `w` is a leaf with requires_grad and no .grad yet. `y` gets grad_fn SumBackward0.
After line 22 (`y.backward()`) w.grad holds dy/dw = 2 * w = [2, 4, 6]. The second backward at
line 27 (`y2.backward()`) adds into w.grad (that is how gradients accumulate; tensorscope notes it
at severity info only, since w was not updated in between), and line 30 (`w.grad.zero_()`) clears it.
Under torch.no_grad() `z` has no grad_fn; `w_detached` shares w's memory but does not require grad.
Nothing is flagged as a warning or error: this scenario is clean.
"""

import torch

torch.manual_seed(0)

w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
print("w.requires_grad:", w.requires_grad, " w.grad:", w.grad)

y = (w ** 2).sum()               # y = w1^2 + w2^2 + w3^2, a scalar
print("y =", y.item(), " grad_fn:", type(y.grad_fn).__name__)

# backward() computes dy/dw and stores it in w.grad
y.backward()
print("w.grad after backward:", w.grad.tolist())

# a second backward (on a new graph) ADDS into w.grad
y2 = (3 * w).sum()
y2.backward()
print("w.grad after a second backward:", w.grad.tolist())

w.grad.zero_()                   # start again from zero, as training loops do
print("w.grad after zero_():", w.grad.tolist())

with torch.no_grad():            # no graph is recorded in here
    z = w * 2
print("under no_grad: z.requires_grad =", z.requires_grad, " z.grad_fn =", z.grad_fn)

w_detached = w.detach()          # same data, cut from the graph
same_memory = w_detached.data_ptr() == w.data_ptr()
print("detached: requires_grad =", w_detached.requires_grad, " shares memory:", same_memory)
