"""The bundled scenarios' docstrings in Chinese, keyed by the English docstring's first line.

Kept here, not in the scripts: a Chinese section in a docstring would move every line the lessons name.
Each translation names the same lines (`第 N 行`) and flags as the English (tests/test_words_zh.py).
Shapes are written as everywhere else in tensorscope (tensorscope/shapes.py).
"""

from __future__ import annotations

DOCS_ZH: dict[str, str] = {
    "Autograd basics: requires_grad, backward(), .grad, torch.no_grad(), zeroing gradients, detach().": """\
自动求导基础：requires_grad、backward()、.grad、torch.no_grad()、梯度清零、detach()。

在 tensorscope 中观察：`w` 是 requires_grad 的叶子张量，还没有 .grad。`y` 得到 grad_fn SumBackward0。
第 22 行（`y.backward()`）之后，w.grad 是 dy/dw = 2 * w = [2, 4, 6]。第 27 行（`y2.backward()`）的第二次
backward 会累加到 w.grad 上（梯度就是这样累积的；因为两次之间 w 没有被更新，tensorscope 只以提示级别标出），
第 30 行（`w.grad.zero_()`）把它清零。
在 torch.no_grad() 下 `z` 没有 grad_fn；`w_detached` 与 w 共用内存，但不需要梯度。
没有任何警告或错误：这个脚本是正确的。""",
    "Pitfall: a second backward() through a graph whose saved tensors the first backward() freed.": """\
常见错误：第二次 backward() 经过的计算图，其保存的张量已被第一次 backward() 释放。

在 tensorscope 中观察：两个损失共用 `h = torch.tanh(x @ w)`。第 27 行（`loss_a.backward()`）正常运行，并释放
了这张图保存的值（包括 tanh 的输出）。第 28 行（`loss_b.backward()`）必须再次经过 tanh，于是抛出 PyTorch 的
"Trying to backward through the graph a second time"，被标为 `backward-twice`（错误），并指出 `loss_b`。
修复（用 --fixed 运行）：对两者之和只做一次 backward，第 25 行（`(loss_a + loss_b).backward()`）；
第一次调用时传 `retain_graph=True` 也可以，但会让这些值一直占着内存。""",
    "Pitfall: N×1 predictions minus N targets silently broadcast to N×N: only the mean is learnt.": """\
常见错误：N×1 的预测值减去 N 个目标值，被悄悄广播成 N×N：模型只学到了均值。

在 tensorscope 中观察：`y_pred` 的形状是 8×1，而 `y` 的形状是 8，所以在第 32 行
（`diff = y_pred - target`）`diff` 变成 8×8：每个预测值减去每个目标值。没有报错：PyTorch 会自动广播。
tensorscope 在这一行标出 `broadcast-expand`（警告），指出 `y_pred`（8×1）、`target`（8）和 8×8 的结果。
损失一直很高，模型只学到 y 的均值：把打印出的 w 与真实斜率 3 比较一下。
修复（用 --fixed 运行）：把目标值也变成一列，第 29 行（`target = y.unsqueeze(1)`），这样 diff 是 8×1。""",
    "Pitfall: the model is moved to the GPU but the batch is left on the "
    "CPU (use --simulate-cuda on a laptop).":
    """\
常见错误：模型移到了 GPU，数据批次却留在 CPU 上（在笔记本电脑上请用 --simulate-cuda）。

在没有 GPU 的机器上请用 `tensorscope run device_mismatch --simulate-cuda` 运行；它需要 CUDA（在只有 CPU 版
PyTorch 的普通 python 下，第 21 行（`model = nn.Linear(3, 1).to(device)`）会因
"Torch not compiled with CUDA enabled" 失败，被标为 `cuda-unavailable`）。
在 tensorscope 中观察：设备一列显示 model.weight 和 model.bias 在 cuda:0 上，而 `x` 和 `y` 留在 cpu 上。
第 29 行（`y_pred = model(x)`）抛出 PyTorch 的 "Expected all tensors to be on the same device"，被标为
`device-mismatch`（错误），指出 `x`（cpu）和模型的参数（cuda:0）。
修复（用 --fixed 运行）：用 .to(device) 把数据批次移到模型所在的设备，第 26 行（`x = x.to(device)`）。""",
    'Pitfall: NumPy data (float64) fed to a float32 model: "mat1 and mat2 must have the same dtype".': """\
常见错误：把 NumPy 数据（float64）喂给 float32 的模型："mat1 and mat2 must have the same dtype"。

在 tensorscope 中观察 dtype 一列。`data` 来自 NumPy，它默认是 float64，torch.from_numpy 保留了这个类型，
所以 `x` 是 float64，而 model.weight 和 model.bias 是 float32。
第 30 行（`y_pred = model(x)`）抛出 PyTorch 的 "mat1 and mat2 must have the same dtype, but got Double
and Float"，被标为 `dtype-mismatch`（错误），指出的是 `x`（float64）和 model.weight（float32），而不是
PyTorch 所说的 mat1 和 mat2。
修复（用 --fixed 运行）：把数据转换一次，第 26 行（`x = x.float()`）（或用 `.to(torch.float32)`）。""",
    "Pitfall: forgetting to zero the gradients, so every backward() adds onto the last epoch's .grad.": """\
常见错误：忘记把梯度清零，于是每次 backward() 都加到上一轮的 .grad 上。

在 tensorscope 中观察：从第 2 轮起，第 30 行（`loss.backward()`）被标为 `grad-accumulation`（警告）：
w.grad 和 b.grad 还保留着上一轮的梯度，而 w 和 b 在此期间已被更新，所以这次 backward() 把新梯度加到了过时的
梯度上。每次 backward() 之后看看 w.grad：它是之前每一轮梯度的累加和，所以更新幅度过大，
损失上下摆动而不是下降。
PyTorch 不会报错：脚本能运行到结束，只是结果不对。
修复（用 --fixed 运行）：每次更新后把梯度清零，第 38 行（`w.grad.zero_()`）。""",
    "Gradient accumulation on purpose: backward() on several "
    "micro-batches, then one step(), then zero_grad().":
    """\
有意的梯度累积：对几个小批次分别 backward()，然后一次 step()，再 zero_grad()。

在 tensorscope 中观察：在一个批次内，每次执行第 30 行（`loss.backward()`）都会累加到 model.weight.grad 和
model.bias.grad 上。这里这是有意为之：每个小批次的损失都除以了 `accum_steps`，所以四个梯度之和就是整个批次
的梯度。tensorscope 只以提示级别标出 `grad-accumulation`，因为这些 backward() 调用之间没有参数被更新
（对比 forgot_zero_grad.py，那里是警告）。然后第 32 行（`optimizer.step()`）更新一次，
第 33 行（`optimizer.zero_grad()`）为下一个批次清空梯度。没有警告或错误。""",
    "Pitfall: an in-place op overwrites a tensor autograd saved for backward, so backward() fails.": """\
常见错误：原地操作覆盖了自动求导为 backward 保存的张量，于是 backward() 失败。

在 tensorscope 中观察：`h = torch.sigmoid(x @ w)` 保存了它的输出 `h`，因为 sigmoid 的梯度是 h * (1 - h)。
第 26 行（`h *= 2`）原地修改了 `h`（它的版本号从 0 变为 1），当场就被标为 `inplace-saved-tensor`（警告），
那时还什么都没有出错。随后第 28 行（`loss.backward()`）抛出 PyTorch 的 "one of the variables needed for
gradient computation has been modified by an inplace operation"，被标为 `inplace-saved-tensor`（错误），
解释相同。
修复（用 --fixed 运行）：第 24 行（`h = h * 2`）不是原地操作：它生成一个新张量，保存的那个不受影响。""",
    "Linear regression y = 2x + 1 by manual SGD: forward, loss, backward, "
    "update under no_grad, zero the grads.":
    """\
手写 SGD 做线性回归 y = 2x + 1：前向、损失、反向、在 no_grad 下更新、梯度清零。

在 tensorscope 中，每一轮都观察：
- 第 28 行（`loss.backward()`）：写入 w.grad（1×1）和 b.grad（形状 1）；
- 第 31 行（`w -= lr * w.grad`）在 torch.no_grad() 下：w 被原地修改（版本号增加），仍然没有 grad_fn；
  b 在下一行跟着更新；
- 第 34 行（`w.grad.zero_()`）：梯度回到零，为下一次 backward() 做好准备；
- 输出窗格：损失一轮比一轮小，w 趋向 2，b 趋向 1。
没有任何问题被标出：这个脚本是正确的（对比 forgot_zero_grad.py 和 update_without_no_grad.py）。""",
    "Pitfall: a learning rate so large that every step overshoots; the loss explodes to inf, then nan.": """\
常见错误：学习率太大，每一步都冲过头；损失爆炸到 inf，然后变成 nan。

在 tensorscope 中观察：输入大到 100 且没有归一化，所以梯度巨大，lr = 0.1 让每一步都冲过头：
model.weight 的符号来回翻转且越来越大，输出窗格中的损失每一步增长约 500000 倍。
到第 7 步 `loss` 变成 inf，在第 32 行（`loss = loss_fn(y_pred, y)`）被标为 `nan-inf`（警告）；梯度和参数
随后也变成 inf，到第 15 步损失变成 nan。每个张量在第一次出现 inf 或 nan 时被标出。PyTorch 不会报错。
修复（用 --fixed 运行）：用数据能承受的学习率，第 26 行（`lr = 1e-4`）；损失就会下降。""",
    "A small nn.Module trained with torch.optim.SGD: zero_grad(), forward, loss, backward(), step().": """\
用 torch.optim.SGD 训练一个小 nn.Module：zero_grad()、前向、损失、backward()、step()。

在 tensorscope 中观察：参数显示为 model.hidden.weight、model.hidden.bias、model.out.weight、model.out.bias，
`optimizer` 显示为摘要（SGD、lr、4 个参数）。每一步中：
第 36 行（`optimizer.zero_grad()`）清空每个 .grad（设为 None）；在第 37 行（`y_pred = model(x)`）按 s 步入，
跟着 forward() 走；第 39 行（`loss.backward()`）为每个参数写入 .grad；第 40 行
（`optimizer.step()`）更新参数。输出窗格中的损失逐步下降。
没有任何问题被标出：这个脚本是正确的。""",
    "Backward on a non-scalar output, done right: pass `gradient=` (the "
    "vector of a vector-Jacobian product).":
    """\
对非标量输出做 backward 的正确写法：传入 `gradient=`（向量-雅可比积中的那个向量）。

在 tensorscope 中观察：`y = x * x` 是形状为 3 的向量，不是标量，所以 backward() 需要一个同样形状的
`gradient`。第 19 行（`y.backward(gradient=torch.ones_like(y))`）得到 x.grad = 2 * x，与 y.sum().backward()
的结果完全相同（第 31 行（`y.sum().backward()`））。第 25 行（`y.backward(gradient=v)`）给每个输出加权：
x.grad = 2 * x * v。两次运行之间用 `x.grad = None` 重新开始。
没有任何问题被标出：这个脚本是正确的（对比 nonscalar_backward_error.py）。""",
    "Pitfall: calling backward() on a loss that is still one value per sample, not a scalar.": """\
常见错误：对每个样本仍各有一个值、而不是标量的损失调用 backward()。

在 tensorscope 中观察：`loss` 的形状是 4×1，每个样本一个平方误差，因为忘了 .mean()。
第 26 行（`loss.backward()`）抛出 PyTorch 的 "grad can be implicitly created only for scalar outputs"，
被标为 `nonscalar-backward`（错误），指出 `loss` 和它的形状。
修复（用 --fixed 运行）：先归约成标量，第 25 行（`loss = loss.mean()`）；如果确实需要非标量，
就像 nonscalar_backward.py 那样传入 `gradient=`。""",
    "Pitfall: `running_loss += loss` keeps every iteration's autograd graph alive; use loss.item().": """\
常见错误：`running_loss += loss` 让每次迭代的计算图都无法释放；应该用 loss.item()。

在 tensorscope 中观察：`running_loss` 一开始是浮点数，但第 33 行（`running_loss += loss`）之后它变成带
grad_fn AddBackward0 的张量，连接着每一步的 loss，所以这些计算图都无法释放：在真实的训练循环中，
内存会随每次迭代增长。tensorscope 在这一行标出 `graph-retained`（警告），指出 `running_loss` 和 `loss`。
不会报错：打印出的平均值甚至是对的，所以这个错误常常长期存在。
修复（用 --fixed 运行）：加上普通数字，第 31 行（`running_loss += loss.item()`）。""",
    "Pitfall: the data has 3 features but the model's first layer expects "
    "4: \"shapes cannot be multiplied\".":
    """\
常见错误：数据有 3 个特征，模型的第一层却需要 4 个："shapes cannot be multiplied"。

在 tensorscope 中观察：`x` 的形状是 8×3；model.0.weight 的形状是 16×4，因为
nn.Linear(in_features=4, ...) 存储的是 out×in 的权重。第 27 行（`y_pred = model(x)`）抛出
PyTorch 的 "mat1 and mat2 shapes cannot be multiplied (8x3 and 4x16)"，被标为 `shape-mismatch`
（错误）：x 的最后一维（3）必须等于这一层的 in_features（4）。
修复（用 --fixed 运行）：从数据中取得大小，第 23 行（`n_features = x.shape[1]`）。""",
    "Tensor basics: create, index, reshape/view/squeeze/unsqueeze, "
    "cat/split, CPU or GPU, the NumPy bridge.": """\
张量基础：创建、索引、reshape/view/squeeze/unsqueeze、cat/split、CPU 或 GPU、与 NumPy 互通。

在 tensorscope 中观察：张量窗格一行一行地填满。`x` 是 2×3 的 float32 张量（第 15 行（`x = torch.arange`））；
`flat` 是 `x` 的视图，所以第 31 行（`flat[0] = 100.0`）的写入也改变了 `x`（两者的版本号都增加）；
`col` 用 unsqueeze 多了一维，`back` 又把它去掉；只有在有 GPU 时 `device` 才是 "cuda"；`from_np` 与
NumPy 数组 `arr` 共用内存，所以第 46 行（`arr[0] = -1.0`）的写入会出现在 `from_np` 中。
没有任何问题被标出：这个脚本是正确的。""",
    "Pitfall: updating the parameters outside torch.no_grad(), so autograd refuses the in-place change.": """\
常见错误：在 torch.no_grad() 之外更新参数，于是自动求导拒绝这个原地修改。

在 tensorscope 中观察：循环与 linreg.py 相同，但第 31 行（`w -= lr * w.grad`）的更新是在梯度模式开启时
运行的（见顶部的状态栏）。`w` 是需要梯度的叶子张量，原地修改它就得记录到计算图中，于是在第一轮 PyTorch 就抛出
"a leaf Variable that requires grad is being used in an in-place operation."。tensorscope 在这一行把它标为
`inplace-leaf`（错误）。
修复（用 --fixed 运行）：在 `with torch.no_grad():` 下做更新，第 27 行（`with torch.no_grad():`）。""",
}
"""English first line -> the whole docstring in Chinese (its first line: the summary of `list --lang zh`)."""
