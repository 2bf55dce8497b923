"""zero_grad called on the wrong model: the teacher is cleared, the student's grads pile up."""
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(16, 3)
teacher = nn.Linear(3, 2)
student = nn.Linear(3, 2)
opt = torch.optim.SGD(student.parameters(), lr=0.1)
with torch.no_grad():
    target = teacher(x)
for _epoch in range(30):
    teacher.zero_grad()
    loss = nn.functional.mse_loss(student(x), target)
    loss.backward()  # <- grad-accumulation
    opt.step()
print(round(loss.item(), 4))
