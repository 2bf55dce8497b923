"""Mirrors d2l chapter 6: LeNet with xavier init, layer-by-layer shape print and train_ch6."""
# ruff: noqa: B007  (the original's idioms, kept)
import torch
from torch import nn
from torch.utils import data

torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
    nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10))

X = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)
for layer in net:
    X = layer(X)
    print(layer.__class__.__name__, 'output shape: \t', X.shape)


def evaluate_accuracy_gpu(net, data_iter, device=None):
    if isinstance(net, nn.Module):
        net.eval()
        if not device:
            device = next(iter(net.parameters())).device
    correct, total = 0.0, 0
    with torch.no_grad():
        for X, y in data_iter:
            if isinstance(X, list):
                X = [x.to(device) for x in X]
            else:
                X = X.to(device)
            y = y.to(device)
            correct += (net(X).argmax(axis=1) == y).sum().item()
            total += y.numel()
    return correct / total


def train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    def init_weights(m):
        if type(m) is nn.Linear or type(m) is nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    print('training on', device)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    for epoch in range(num_epochs):
        total_loss, n = 0.0, 0
        net.train()
        for i, (X, y) in enumerate(train_iter):
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)  # noqa: E741
            l.backward()
            optimizer.step()
            with torch.no_grad():
                total_loss += l * X.shape[0]
                n += X.shape[0]
        test_acc = evaluate_accuracy_gpu(net, test_iter)
        print(f'loss {total_loss / n:.3f}, test acc {test_acc:.3f}')


Xs = torch.rand(128, 1, 28, 28)
ys = torch.randint(0, 10, (128,))
train_iter = data.DataLoader(data.TensorDataset(Xs[:96], ys[:96]), batch_size=32, shuffle=True)
test_iter = data.DataLoader(data.TensorDataset(Xs[96:], ys[96:]), batch_size=32)
train_ch6(net, train_iter, test_iter, 2, 0.9, torch.device('cpu'))
