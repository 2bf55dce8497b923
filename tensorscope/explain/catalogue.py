"""The words: for every flag code, its title, message, cause and fix in English and Chinese.

Placeholders like `{name}` are filled from the Flag's `data`; a missing value shows as `?`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

LANGS: tuple[str, ...] = ("en", "zh")


@dataclass(frozen=True)
class Entry:
    """The wording of one flag code, per language."""

    title: dict[str, str]
    message: dict[str, str]
    """One sentence naming the user's variables."""
    cause: dict[str, str]
    """Why it happens, in plain words."""
    fix: dict[str, str]
    """What to write instead."""


@dataclass(frozen=True)
class Text:
    """An entry rendered in one language with the flag's values filled in."""

    code: str
    title: str
    message: str
    cause: str
    fix: str


CATALOGUE: dict[str, Entry] = {
    "device-mismatch": Entry(
        title={"en": "Tensors on different devices", "zh": "张量位于不同的设备上"},
        message={
            "en": "{a} is on {a_device} but {b} is on {b_device}: one operation cannot mix devices.",
            "zh": "{a} 在 {a_device} 上，而 {b} 在 {b_device} 上：同一个运算不能混用不同设备上的张量。",
        },
        cause={
            "en": "PyTorch never moves tensors between devices by itself: every tensor used in one operation,"
                  " and every parameter of a model, must be on the same device (the one exception: a 0-dim "
                  "CPU tensor, such as torch.tensor(2.0), may be combined with CUDA tensors). Usually the "
                  "model was moved with .to(device) but a batch, a target or a tensor created in the loop "
                  "was not (or the other way round).",
            "zh": "PyTorch 不会自动在设备之间搬运张量：同一个运算用到的所有张量（以及模型的所有参数）都必须在"
                  "同一个设备上（唯一的例外：0 维的 CPU 张量，比如 torch.tensor(2.0)，可以和 CUDA 张量一起"
                  "运算）。常见情况是模型已用 .to(device) 移到了 GPU，而某个批次数据、标签或在循环里新建的"
                  "张量还留在 CPU 上（或者反过来）。",
        },
        fix={
            "en": "Move it to the same device: `{move}`. A robust pattern: choose `device = torch.device("
                  "\"cuda\" if torch.cuda.is_available() else \"cpu\")` once, call model.to(device), move "
                  "every batch with .to(device) and create new tensors with device=device.",
            "zh": "把它移到同一个设备上：`{move}`。稳妥的写法是一开始就选好 `device = torch.device(\"cuda\" "
                  "if torch.cuda.is_available() else \"cpu\")`，调用 model.to(device)，每个批次都用 "
                  ".to(device) 移过去，新建张量时传入 device=device。",
        },
    ),
    "cuda-unavailable": Entry(
        title={"en": "CUDA is not available", "zh": "CUDA 不可用"},
        message={
            "en": "`{call}` asks for a CUDA GPU, but CUDA is not available on this machine.",
            "zh": "`{call}` 请求使用 CUDA GPU，但这台机器上没有可用的 CUDA。",
        },
        cause={
            "en": "The script hard-codes the GPU (.cuda(), .to(\"cuda\"), device=\"cuda\"), but this PyTorch "
                  "build or this machine has no usable CUDA device: a CPU-only PyTorch, no NVIDIA GPU, or "
                  "no driver.",
            "zh": "脚本把 GPU 写死了（.cuda()、.to(\"cuda\")、device=\"cuda\"），但当前的 PyTorch 版本或这台"
                  "机器没有可用的 CUDA 设备：可能是只支持 CPU 的 PyTorch、没有 NVIDIA 显卡，或者没有安装驱动"
                  "。",
        },
        fix={
            "en": "Choose the device at run time: `device = torch.device(\"cuda\" if "
                  "torch.cuda.is_available() else \"cpu\")`, then use .to(device) instead of .cuda(). To "
                  "rehearse GPU code on this machine, run it with --simulate-cuda (tensorscope run "
                  "--simulate-cuda {script}). A checkpoint saved on a GPU loads with "
                  "torch.load(path, map_location=device).",
            "zh": "在运行时选择设备：`device = torch.device(\"cuda\" if torch.cuda.is_available() else "
                  "\"cpu\")`，然后用 .to(device) 代替 .cuda()。想在这台机器上演练 GPU 代码，可以加上 "
                  "--simulate-cuda 运行（tensorscope run --simulate-cuda {script}）。在 GPU 上保存的检查点可"
                  "以"
                  "用 torch.load(path, map_location=device) 加载。",
        },
    ),
    "nonscalar-backward": Entry(
        title={"en": "backward() on a tensor that is not a scalar", "zh": "对非标量张量调用 backward()"},
        message={
            "en": "{name} has shape {shape} ({numel} values), but backward() without a gradient argument "
                  "needs a single number.",
            "zh": "{name} 的形状是 {shape}（共 {numel} 个值），但不带 gradient 参数的 backward() 只能用于单个"
                  "数（标量）。",
        },
        cause={
            "en": "backward() computes the gradient of one number with respect to the leaves. For a tensor "
                  "with several elements PyTorch would need a weight for each element, so it refuses. This "
                  "usually means the loss was not reduced: a missing .mean() or .sum(), or "
                  "reduction=\"none\".",
            "zh": "backward() 计算的是一个数对叶子张量的梯度。对于含多个元素的张量，PyTorch 需要知道每个元素"
                  "的权重，因此拒绝执行。这通常说明损失没有归约成一个数：漏了 .mean() 或 .sum()，或者用了 "
                  "reduction=\"none\"。",
        },
        fix={
            "en": "Reduce it to a scalar first: `{name}.mean().backward()` (or .sum()), or pass the weight "
                  "of each element: `{name}.backward(gradient=torch.ones_like({name}))`.",
            "zh": "先把它归约成标量：`{name}.mean().backward()`（或 .sum()）；或者传入每个元素的权重："
                  "`{name}.backward(gradient=torch.ones_like({name}))`。",
        },
    ),
    "backward-twice": Entry(
        title={"en": "backward() through a freed graph", "zh": "在已释放的计算图上再次反向传播"},
        message={
            "en": "{name}.backward() goes through a graph whose saved values an earlier backward() already "
                  "freed.",
            "zh": "{name}.backward() 要经过的计算图中保存的中间值，已经被之前的一次 backward() 释放了。",
        },
        cause={
            "en": "To save memory, backward() frees the values the graph saved as soon as it has used them. "
                  "A second backward() through any part of that graph fails: backward() called twice on the "
                  "same result, or a tensor whose graph was built before the previous backward() (computed "
                  "once before the loop, or carried over like an RNN hidden state) used again.",
            "zh": "为了节省内存，backward() 用完计算图保存的中间值后会立即释放它们。再次经过该图任何部分的 "
                  "backward() 都会失败：对同一个结果调用了两次 backward()，或者再次使用了在上一次 backward() "
                  "之前就建好计算图的张量（例如在循环之前只算了一次的值，或像 RNN 隐藏状态那样跨迭代传递的张"
                  "量）。",
        },
        fix={
            "en": "Recompute the forward pass before every backward(); cut tensors you carry from one "
                  "iteration to the next with .detach(); only if you really need two backward passes "
                  "through one graph, pass retain_graph=True to the first one.",
            "zh": "每次 backward() 之前都重新做一次前向计算；跨迭代传递的张量用 .detach() 切断计算图；只有确"
                  "实需要在同一个计算图上反向传播两次时，才在第一次调用时传入 retain_graph=True。",
        },
    ),
    "no-grad-graph": Entry(
        title={"en": "backward() on a tensor without a graph", "zh": "对没有计算图的张量调用 backward()"},
        message={
            "en": "{name} does not require grad and has no grad_fn, so {name}.backward() has no graph to go "
                  "through.",
            "zh": "{name} 不需要梯度，也没有 grad_fn，所以 {name}.backward() 没有可以反向传播的计算图。",
        },
        cause={
            "en": "Autograd only records operations on tensors that require grad. {name} was computed "
                  "without any: the leaves were created without requires_grad=True, the computation ran "
                  "under torch.no_grad(), or the graph was cut by .detach(), .item(), .data or "
                  "torch.tensor(...).",
            "zh": "自动求导只记录对需要梯度的张量所做的运算。{name} 的计算过程中没有这样的张量：叶子张量创建"
                  "时没有设置 requires_grad=True，或者计算是在 torch.no_grad() 下进行的，或者计算图被 "
                  ".detach()、.item()、.data 或 torch.tensor(...) 切断了。",
        },
        fix={
            "en": "Give the parameters requires_grad=True (nn.Module parameters have it by default), compute "
                  "the loss outside torch.no_grad(), and keep it a tensor: no .item(), .detach() or "
                  "torch.tensor(loss) before backward().",
            "zh": "让参数带上 requires_grad=True（nn.Module 的参数默认如此），在 torch.no_grad() 之外计算损失"
                  "，并让它保持为张量：backward() 之前不要用 .item()、.detach() 或 torch.tensor(loss)。",
        },
    ),
    "dtype-mismatch": Entry(
        title={"en": "Tensors of different dtypes", "zh": "张量的数据类型（dtype）不一致"},
        message={
            "en": "{a} is {a_dtype} but {b} is {b_dtype}: this operation needs both to have the same dtype.",
            "zh": "{a} 是 {a_dtype}，而 {b} 是 {b_dtype}：这个运算要求两者的 dtype 相同。",
        },
        cause={
            "en": "Matrix products and layers (nn.Linear, convolutions) do not convert dtypes for you: "
                  "their inputs and parameters must share one dtype. (Some losses, such as mse_loss and "
                  "l1_loss, promote float32 to float64 instead, which hides the mix until a layer meets "
                  "it.) The usual source: NumPy arrays of floats are float64 by default (torch.from_numpy "
                  "and torch.tensor keep that), while nn.Module parameters are float32.",
            "zh": "矩阵乘法和网络层（nn.Linear、卷积）不会自动转换 dtype：它们的输入和参数必须是同一种 "
                  "dtype。（有些损失函数，比如 mse_loss 和 l1_loss，会把 float32 提升为 float64，于是这种"
                  "混用要等到遇上网络层时才暴露。）最常见的原因是 NumPy 浮点数组默认是 "
                  "float64（torch.from_numpy 和 torch.tensor 都会保留它），而 nn.Module 的参数是 float32。",
        },
        fix={
            "en": "Convert one side, usually the data: `{convert}`. For NumPy data use "
                  "torch.from_numpy(arr).float() or torch.tensor(data, dtype=torch.float32).",
            "zh": "把其中一方转换过来，通常是转换数据：`{convert}`。对 NumPy 数据可用 "
                  "torch.from_numpy(arr).float() 或 torch.tensor(data, dtype=torch.float32)。",
        },
    ),
    "shape-mismatch": Entry(
        title={"en": "Shapes that do not fit", "zh": "张量形状不匹配"},
        message={
            "en": "`{code}` failed because the shapes do not fit ({shapes}): {detail}",
            "zh": "`{code}` 失败了，因为张量形状不匹配（{shapes}）：{detail}",
        },
        cause={
            "en": "Each operation has rules about which dimensions must agree: matrix products the inner "
                  "dimensions, elementwise operations sizes that are equal or 1 (counted from the right), "
                  "view and reshape the same number of elements.",
            "zh": "每种运算都规定了哪些维度必须一致：矩阵乘法要求内侧维度相等；逐元素运算要求（从右往左对齐后"
                  "）各维大小相等或为 1；view 和 reshape 要求元素总数不变。",
        },
        fix={
            "en": "Print the shapes of the tensors on this line and line them up with .T or .transpose(), "
                  ".reshape() or .view(), .unsqueeze() or .squeeze(), or fix the layer sizes.",
            "zh": "打印这一行中各张量的形状，再用 .T 或 .transpose()、.reshape() 或 .view()、.unsqueeze() 或 "
                  ".squeeze() 把维度对齐，或者修改网络层的尺寸。",
        },
    ),
    "inplace-leaf": Entry(
        title={
            "en": "In-place change of a leaf that requires grad",
            "zh": "对需要梯度的叶子张量做了原地操作",
        },
        message={
            "en": "`{code}` changes {name} in place, but {name} is a leaf tensor that requires grad and "
                  "autograd is recording.",
            "zh": "`{code}` 原地修改了 {name}，但 {name} 是需要梯度的叶子张量，而此时自动求导正在记录运算。",
        },
        cause={
            "en": "Autograd must know how every tensor it tracks was made. Changing a leaf that requires "
                  "grad (a parameter) in place while autograd records would put the update itself into the "
                  "graph, so PyTorch forbids it: parameter updates must not be tracked.",
            "zh": "自动求导需要知道它跟踪的每个张量是怎么得到的。在记录运算时原地修改需要梯度的叶子张量（也就"
                  "是参数），会把这次更新本身记进计算图，所以 PyTorch 禁止这样做：参数更新不应被跟踪。",
        },
        fix={
            "en": "Do the update under torch.no_grad(): `with torch.no_grad(): {name} -= lr * {name}.grad`, "
                  "then zero the gradient; or let an optimizer do it (optimizer.step()).",
            "zh": "在 torch.no_grad() 下做更新：`with torch.no_grad(): {name} -= lr * {name}.grad`，然后把"
                  "梯度清零；或者交给优化器完成（optimizer.step()）。",
        },
    ),
    "script-error": Entry(
        title={"en": "The script raised an error", "zh": "脚本抛出了异常"},
        message={"en": "{type}: {error}", "zh": "{type}：{error}"},
        cause={
            "en": "The script stopped with an exception at line {line} (`{code}`) that tensorscope has no "
                  "specific explanation for.",
            "zh": "脚本在第 {line} 行（`{code}`）因异常而停止，tensorscope 对这个异常没有专门的解释。",
        },
        fix={
            "en": "Read the message and the traceback; `tensorscope run` stops at this line so you can "
                  "inspect the tensors involved.",
            "zh": "阅读错误信息和调用栈；用 `tensorscope run` 运行时会停在这一行，可以查看相关的张量。",
        },
    ),
    "grad-accumulation": Entry(
        title={
            "en": "backward() added to a stale .grad (zero_grad forgotten?)",
            "zh": "backward() 把梯度加到了过期的 .grad 上（忘了 zero_grad？）",
        },
        message={
            "en": "{grads} already held {held} from an earlier backward() and {params} {was} updated "
                  "since; this backward() added to it.",
            "zh": "{grads} 里还留着之前一次 backward() 算出的梯度（{held}），而且 {params} 在那之后已经更新"
                  "过；这次 backward() 又把新梯度加了上去。",
        },
        cause={
            "en": "backward() never overwrites .grad, it adds to it. Once the parameters have been "
                  "updated, the old gradient belongs to the old values, so the sum is a stale gradient and "
                  "each step overshoots.",
            "zh": "backward() 从不覆盖 .grad，而是往上累加。参数更新之后，旧梯度对应的是旧的参数值，两者相"
                  "加得到的是过期的梯度，每一步更新都会走过头。",
        },
        fix={
            "en": "Clear the gradients once per update: optimizer.zero_grad() (or model.zero_grad(), or "
                  "{param}.grad.zero_() / {param}.grad = None) before backward() or right after the update.",
            "zh": "每次更新清零一次梯度：在 backward() 之前或更新之后调用 optimizer.zero_grad()（或 "
                  "model.zero_grad()、{param}.grad.zero_()、{param}.grad = None）。",
        },
    ),
    "inplace-saved-tensor": Entry(
        title={
            "en": "In-place change of a tensor saved for backward",
            "zh": "原地修改了反向传播需要的张量",
        },
        message={
            "en": "{name} was saved by {saver} for backward; `{code}` (line {inplace_line}) changed it in "
                  "place (version {saved_version} → {version}), so backward() through it will fail.",
            "zh": "{name} 被 {saver} 保存下来供反向传播使用；第 {inplace_line} 行的 `{code}` 原地修改了它（"
                  "版本 {saved_version} → {version}），经过它的 backward() 将会失败。",
        },
        cause={
            "en": "Autograd keeps some tensors of the forward pass (sigmoid's output, the factors of a "
                  "product, a layer's input) to compute gradients later. An in-place op (x += 1, x *= 2, "
                  "x.mul_(2), x[0] = 0, relu_) overwrites them, so PyTorch refuses to compute gradients "
                  "from changed values.",
            "zh": "autograd 会保存前向计算中的一些张量（sigmoid 的输出、乘法的因子、层的输入），之后用来计"
                  "算梯度。原地操作（x += 1、x *= 2、x.mul_(2)、x[0] = 0、relu_）覆盖了它们，PyTorch 不会用"
                  "被改过的值计算梯度，于是在 backward() 时报错。",
        },
        fix={
            "en": "Write the op out of place so the saved tensor stays as it was (`{name} = {name} * 2` "
                  "instead of `{name} *= 2`), or change a copy: `{name} = {name}.clone()` first.",
            "zh": "改成非原地写法，让保存的张量保持原样（用 `{name} = {name} * 2` 代替 `{name} *= 2`），或"
                  "者先复制一份再改：`{name} = {name}.clone()`。",
        },
    ),
    "broadcast-expand": Entry(
        title={
            "en": "Silent broadcast of a column against a vector",
            "zh": "列向量与一维向量被静默广播",
        },
        message={
            "en": "`{expr}`: {col} {col_shape} and {vec} {vec_shape} broadcast to {out_shape}, pairing "
                  "every element of one with every element of the other.",
            "zh": "`{expr}`：{col} {col_shape} 与 {vec} {vec_shape} 被广播成 {out_shape}，一方的每个元素都"
                  "和另一方的每个元素配成了对。",
        },
        cause={
            "en": "A column (N, 1) combined with a vector (N,) is not an error in PyTorch: both are "
                  "stretched to (N, N). In a loss this compares every prediction with every target, so the "
                  "model learns little more than the mean, and no error is ever raised.",
            "zh": "在 PyTorch 中，(N, 1) 的列与 (N,) 的向量运算不会报错：两者都被扩展成 (N, N)。在损失函数"
                  "里，这等于把每个预测和每个目标都比较一遍，模型几乎只能学到均值，而且始终不会报错。",
        },
        fix={
            "en": "Make the shapes match: `{vec_fix}` (or `{vec_view}`) makes {vec} a column {col_shape} "
                  "like {col}, or `{col_fix}` makes {col} a vector {vec_shape} like {vec}. If an outer "
                  "product is meant, write it explicitly on both sides: `a[:, None] - b[None, :]`.",
            "zh": "让形状一致：`{vec_fix}`（或 `{vec_view}`）把 {vec} 变成与 {col} 一样的列 {col_shape}，"
                  "或 `{col_fix}` 把 {col} 变成与 {vec} 一样的向量 {vec_shape}。如果确实要外积，请在两边都"
                  "显式写出：`a[:, None] - b[None, :]`。",
        },
    ),
    "graph-retained": Entry(
        title={
            "en": "Autograd graphs kept alive across iterations",
            "zh": "计算图在迭代之间被一直保留",
        },
        message={
            "en": "`{code}`: {name} collects {value}, a tensor with grad_fn, across iterations, keeping "
                  "every iteration's autograd graph alive.",
            "zh": "`{code}`：{name} 在多次迭代中不断收集带 grad_fn 的张量 {value}，使每次迭代的计算图都无法"
                  "释放。",
        },
        cause={
            "en": "A loss tensor refers to the autograd graph that computed it. backward() frees the "
                  "tensors that graph saved, but its chain of nodes lives as long as the loss does (and a "
                  "loss that never goes through backward(), such as a validation loss computed outside "
                  "torch.no_grad(), keeps its saved activations too). Adding or appending the tensor instead "
                  "of its number links all those graphs together, so memory grows with every iteration.",
            "zh": "损失张量引用着计算它的那张计算图。backward() 会释放这张图保存的张量，但图中的节点链会"
                  "和损失张量活得一样久（而从未经过 backward() 的损失，比如在 torch.no_grad() 之外算出的"
                  "验证损失，还会留住它保存的中间激活值）。累加或追加张量本身（而不是它的数值）会把这些"
                  "计算图串在一起，内存随每次迭代增长。",
        },
        fix={
            "en": "Keep a plain number: `{fixed}` (or `{operand}.detach()` to keep a tensor without its "
                  "graph).",
            "zh": "只保存数值：`{fixed}`（或用 `{operand}.detach()` 保留不带计算图的张量）。",
        },
    ),
    "nan-inf": Entry(
        title={
            "en": "NaN or Inf appeared",
            "zh": "出现了 NaN 或 Inf",
        },
        message={
            "en": "{name} contains {what} after this line ({count} of {numel} values).",
            "zh": "这一行执行后，{name} 中出现了 {what}（{numel} 个值中有 {count} 个）。",
        },
        cause={
            "en": "Values overflowed or became undefined: a learning rate too large, a division by zero, "
                  "log of zero (-inf) or of a negative number (NaN), sqrt of a negative number (sqrt(0) "
                  "is 0, but its gradient is inf), exp of a large value. NaN then spreads through the "
                  "arithmetic that uses it.",
            "zh": "数值溢出或变得没有定义：学习率过大、除以零、对零取 log（得到 -inf）或对负数取 log"
                  "（得到 NaN）、对负数取 sqrt（sqrt(0) 等于 0，但它的梯度是 inf）、对大数取 exp。NaN "
                  "随后会沿着使用它的算术运算继续传播。",
        },
        fix={
            "en": "Look at the inputs of this line: lower the learning rate, clip gradients "
                  "(torch.nn.utils.clip_grad_norm_), or guard divisions and logs (add a small epsilon, "
                  "clamp).",
            "zh": "检查这一行的输入：降低学习率、裁剪梯度（torch.nn.utils.clip_grad_norm_），或保护除法和对"
                  "数运算（加一个小的 epsilon，或用 clamp）。",
        },
    ),
    "non-leaf-grad": Entry(
        title={
            "en": ".grad read on a non-leaf tensor",
            "zh": "读取了非叶子张量的 .grad",
        },
        message={
            "en": "{name} is not a leaf (it was computed by {grad_fn}), so {name}.grad is None: backward() "
                  "fills .grad only for leaf tensors.",
            "zh": "{name} 不是叶子张量（它由 {grad_fn} 计算得到），所以 {name}.grad 是 None：backward() 只"
                  "为叶子张量填写 .grad。",
        },
        cause={
            "en": "Only leaves that require grad (such as tensors created with requires_grad=True, and "
                  "parameters) keep their gradient in .grad; intermediate results pass gradients along and "
                  "drop them, unless retain_grad() was called on them.",
            "zh": "只有需要梯度的叶子张量（比如用 requires_grad=True 创建的张量和模型参数）会把梯度保存在 "
                  ".grad 中；中间结果只负责把梯度往回传，不会保留，除非对它调用过 retain_grad()。",
        },
        fix={
            "en": "Call `{name}.retain_grad()` before backward() to keep its gradient, or read .grad of "
                  "the leaf it was computed from.",
            "zh": "在 backward() 之前调用 `{name}.retain_grad()` 以保留它的梯度，或读取它所来自的叶子张量的"
                  " .grad。",
        },
    ),
}


VARIANTS: dict[tuple[str, str], Entry] = {}
"""Wordings for particular cases of a code, chosen by the flag's `data["variant"]` (fallback: CATALOGUE)."""
VARIANTS[("broadcast-expand", "unnamed")] = Entry(
    title=CATALOGUE["broadcast-expand"].title,
    message={
        "en": "`{expr}`: a column {col_shape} and a vector {vec_shape} broadcast to {out_shape}, pairing "
              "every element of one with every element of the other.",
        "zh": "`{expr}`：一个列 {col_shape} 与一个向量 {vec_shape} 被广播成 {out_shape}，一方的每个元素都和"
              "另一方的每个元素配成了对。",
    },
    cause=CATALOGUE["broadcast-expand"].cause,
    fix={
        "en": "Make the shapes match: `.unsqueeze(1)` (or `.view(-1, 1)`) on the vector makes it a "
              "column {col_shape}, or `.squeeze(1)` on the column makes it a vector {vec_shape}. If an outer "
              "product is meant, write it explicitly on both sides: `a[:, None] - b[None, :]`.",
        "zh": "让形状一致：对向量调用 `.unsqueeze(1)`（或 `.view(-1, 1)`）把它变成列 {col_shape}，或对列调用 "
              "`.squeeze(1)` 把它变成向量 {vec_shape}。如果确实要外积，请在两边都显式写出：`a[:, None] - "
              "b[None, :]`。",
    },
)
VARIANTS[("grad-accumulation", "accumulate")] = Entry(
    title={
        "en": "Gradients accumulated over several backward() calls",
        "zh": "多次 backward() 的梯度在累加",
    },
    message={
        "en": "{grads} already held {held} from an earlier backward() and {params} {was} not updated "
              "since; this backward() adds to it (gradient accumulation).",
        "zh": "{grads} 里已有之前一次 backward() 算出的梯度（{held}），{params} 此后没有更新；这次 "
              "backward() 在其上累加（梯度累积）。",
    },
    cause={
        "en": "Several backward() calls before one update sum their gradients in .grad. That is how "
              "micro-batch accumulation works; it is a bug only if it was not meant.",
        "zh": "在一次更新之前多次调用 backward()，梯度会在 .grad 中求和。这正是微批次梯度累积的做法；只有在"
              "并非有意为之时才是错误。",
    },
    fix={
        "en": "If intended, zero the gradients after the update; for micro-batches, divide each loss by "
              "their number so that the summed gradient is their mean (losses meant to be added, such as a "
              "GAN discriminator's real and fake terms, need no scaling). Otherwise call "
              "optimizer.zero_grad() before each backward().",
        "zh": "如果是有意为之，请在更新后清零梯度；对于微批次，把每个损失除以微批次数，这样累加得到的梯度就是"
              "它们的平均值（本来就要相加的损失，比如 GAN 判别器的真实样本项和生成样本项，不需要缩放）。否则"
              "在每次 backward() 前调用 optimizer.zero_grad()。",
    },
)
VARIANTS[("inplace-saved-tensor", "failed")] = Entry(
    title={
        "en": "backward() failed: a tensor saved for backward was changed in place",
        "zh": "backward() 失败：反向传播需要的张量被原地修改了",
    },
    message={
        "en": "backward() failed because {name}, saved by {saver} for backward, was changed in place by "
              "`{code}` (line {inplace_line}; version {saved_version} → {version}).",
        "zh": "backward() 失败：{saver} 为反向传播保存的 {name} 被第 {inplace_line} 行的 `{code}` 原地修改"
              "了（版本 {saved_version} → {version}）。",
    },
    cause=CATALOGUE["inplace-saved-tensor"].cause,
    fix=CATALOGUE["inplace-saved-tensor"].fix,
)
VARIANTS[("inplace-saved-tensor", "failed-unknown")] = Entry(
    title=VARIANTS[("inplace-saved-tensor", "failed")].title,
    message={
        "en": "backward() failed because {name}, saved by {saver} for backward, was changed in place after "
              "it was saved (version {saved_version} → {version}).",
        "zh": "backward() 失败：{saver} 为反向传播保存的 {name} 在保存之后被原地修改了（版本 "
              "{saved_version} → {version}）。",
    },
    cause=CATALOGUE["inplace-saved-tensor"].cause,
    fix=CATALOGUE["inplace-saved-tensor"].fix,
)

VARIANTS[("device-mismatch", "unnamed")] = Entry(
    title=CATALOGUE["device-mismatch"].title,
    message={
        "en": "`{code}` mixes tensors on {a_device} and {b_device}: one operation cannot mix devices.",
        "zh": "`{code}` 混用了 {a_device} 和 {b_device} 上的张量：同一个运算不能混用不同设备上的张量。",
    },
    cause=CATALOGUE["device-mismatch"].cause,
    fix={
        "en": "Move every tensor used on this line, and the model, to one device with .to(device); "
              "tensors created inside a forward() need device=... too (e.g. device=x.device).",
        "zh": "用 .to(device) 把这一行用到的所有张量以及模型移到同一个设备上；在 forward() 里新建的张量也要"
              "指定 device（例如 device=x.device）。",
    },
)
VARIANTS[("device-mismatch", "numpy")] = Entry(
    title={"en": "NumPy conversion of a GPU tensor", "zh": "把 GPU 上的张量转换为 NumPy 数组"},
    message={
        "en": "{a} is on {a_device}, but NumPy can only read tensors in CPU memory.",
        "zh": "{a} 在 {a_device} 上，而 NumPy 只能读取 CPU 内存中的张量。",
    },
    cause={
        "en": ".numpy() shares memory with the tensor, so the tensor has to be in CPU memory first.",
        "zh": ".numpy() 与张量共享同一块内存，所以张量必须先位于 CPU 内存中。",
    },
    fix={
        "en": "Copy it to the CPU first: `{a}.detach().cpu().numpy()` (for a single number, `{a}.item()`).",
        "zh": "先复制到 CPU：`{a}.detach().cpu().numpy()`（如果只是一个数，用 `{a}.item()`）。",
    },
)
VARIANTS[("device-mismatch", "origin")] = Entry(
    title=CATALOGUE["device-mismatch"].title,
    message=CATALOGUE["device-mismatch"].message,
    cause=CATALOGUE["device-mismatch"].cause,
    fix={
        "en": "{moved} comes from line {origin_line} (`{origin_code}`): move it to the same device there, "
              "or here: `{move}`. A robust pattern: choose `device = torch.device(\"cuda\" if "
              "torch.cuda.is_available() else \"cpu\")` once, call model.to(device), move every batch with "
              ".to(device) and create new tensors with device=device.",
        "zh": "{moved} 来自第 {origin_line} 行（`{origin_code}`）：可以在那里把它移到同一个设备上，"
              "也可以在这里移动：`{move}`。稳妥的写法是一开始就选好 `device = torch.device(\"cuda\" if "
              "torch.cuda.is_available() else \"cpu\")`，调用 model.to(device)，每个批次都用 .to(device) "
              "移过去，新建张量时传入 device=device。",
    },
)
VARIANTS[("cuda-unavailable", "default-device")] = Entry(
    title=CATALOGUE["cuda-unavailable"].title,
    message={
        "en": "`{call}` creates its tensors on the default device, {device}, but CUDA is not available on "
              "this machine.",
        "zh": "`{call}` 会在默认设备 {device} 上创建张量，但这台机器上没有可用的 CUDA。",
    },
    cause={
        "en": "torch.set_default_device(\"cuda\") (or a `with torch.device(\"cuda\"):` block) makes every "
              "factory call without a device= argument, the parameters of new modules included, create its "
              "tensor on CUDA; this PyTorch build or this machine has no usable CUDA device.",
        "zh": "torch.set_default_device(\"cuda\")（或 `with torch.device(\"cuda\"):` 代码块）会让所有没有 "
              "device= 参数的张量创建调用（包括新建模块的参数）都在 CUDA 上创建张量；而当前的 PyTorch 版本或"
              "这台机器没有可用的 CUDA 设备。",
    },
    fix={
        "en": "Choose the default device at run time: `torch.set_default_device(\"cuda\" if "
              "torch.cuda.is_available() else \"cpu\")`. To rehearse GPU code on this machine, run it with "
              "--simulate-cuda (tensorscope run --simulate-cuda {script}).",
        "zh": "在运行时选择默认设备：`torch.set_default_device(\"cuda\" if torch.cuda.is_available() else "
              "\"cpu\")`。想在这台机器上演练 GPU 代码，可以加上 --simulate-cuda 运行（tensorscope run "
              "--simulate-cuda {script}）。",
    },
)
VARIANTS[("cuda-unavailable", "simulated")] = Entry(
    title=CATALOGUE["cuda-unavailable"].title,
    message={
        "en": "`{call}` needs a real CUDA GPU: --simulate-cuda does not simulate it, and this machine has "
              "none.",
        "zh": "`{call}` 需要真正的 CUDA GPU：--simulate-cuda 不模拟这个调用，而这台机器上没有 GPU。",
    },
    cause={
        "en": "This run already simulates a GPU (--simulate-cuda) for tensors, modules and device queries, "
              "but this call reached PyTorch's own CUDA support, which this PyTorch build or this machine "
              "does not have.",
        "zh": "这次运行已经用 --simulate-cuda 为张量、模块和设备查询模拟了 GPU，但这个调用用到了 PyTorch 自己"
              "的 CUDA 支持，而当前的 PyTorch 版本或这台机器并没有。",
    },
    fix={
        "en": "Run this part on a machine with a GPU, or leave it out of the rehearsal (under "
              "--simulate-cuda torch.cuda.is_available() answers True, so it cannot tell the two apart).",
        "zh": "在有 GPU 的机器上运行这一部分，或者演练时先去掉它（在 --simulate-cuda 下 "
              "torch.cuda.is_available() 返回 True，无法用它区分这两种情况）。",
    },
)
VARIANTS[("backward-twice", "carried")] = Entry(
    title=CATALOGUE["backward-twice"].title,
    message={
        "en": "{name}.backward() reaches the previous iteration's graph through {other}, whose saved "
              "values that iteration's backward() already freed.",
        "zh": "{name}.backward() 通过 {other} 连到了上一次迭代的计算图，而那张图保存的中间值已经被上一次的 "
              "backward() 释放了。",
    },
    cause={
        "en": "{other} is carried from one loop iteration to the next together with its grad_fn, so each "
              "new graph is attached to the old one. backward() frees the saved values of every graph it "
              "goes through; the next backward() then runs into the freed part.",
        "zh": "{other} 连同它的 grad_fn 一起从上一次迭代传到了下一次迭代，所以每次新建的计算图都挂在旧图上。"
              "backward() 会释放它经过的计算图所保存的中间值，下一次 backward() 就会走到已释放的部分。",
    },
    fix={
        "en": "Detach it at the start of each iteration (or right after backward()): "
              "`{other} = {other}.detach()`. Use retain_graph=True only if you really mean to backpropagate "
              "through every earlier iteration (slow, and memory keeps growing).",
        "zh": "在每次迭代开始时（或 backward() 之后）把它分离出来：`{other} = {other}.detach()`。只有确实要"
              "反向传播穿过之前所有迭代时才用 retain_graph=True（很慢，而且内存会不断增长）。",
    },
)
VARIANTS[("backward-twice", "before-loop")] = Entry(
    title=CATALOGUE["backward-twice"].title,
    message={
        "en": "{name}.backward() goes through {other}, which was computed once before the loop: the "
              "first backward() freed the values its graph saved.",
        "zh": "{name}.backward() 要经过 {other}，而 {other} 只在循环之前计算了一次：第一次 backward() 就"
              "释放了它的计算图保存的中间值。",
    },
    cause={
        "en": "backward() frees the values saved in the graph it goes through. {other} and its graph were "
              "built once, before the loop, so only the first iteration can backpropagate through it.",
        "zh": "backward() 会释放它经过的计算图中保存的中间值。{other} 及其计算图只在循环之前构建了一次，所以"
              "只有第一次迭代能通过它反向传播。",
    },
    fix={
        "en": "Compute {other} inside the loop, so every iteration builds a fresh graph; if it is a fixed "
              "input, create it with .detach() or under torch.no_grad().",
        "zh": "把 {other} 的计算移到循环里面，让每次迭代都构建新的计算图；如果它只是固定的输入，就用 "
              ".detach() 或在 torch.no_grad() 下创建它。",
    },
)
VARIANTS[("backward-twice", "shared")] = Entry(
    title=CATALOGUE["backward-twice"].title,
    message={
        "en": "{name}.backward() goes through {shared}, which is also part of {other}'s graph: an earlier "
              "backward() through {other} already freed the values that part of the graph saved.",
        "zh": "{name}.backward() 要经过 {shared}，而 {shared} 也属于 {other} 的计算图：之前对 {other} 的 "
              "backward() 已经把这部分计算图保存的中间值释放了。",
    },
    cause={
        "en": "{name} and {other} share part of one graph ({shared} and what it was computed from). "
              "backward() frees the values saved in every part of the graph it goes through, so the second "
              "backward() finds the shared part empty.",
        "zh": "{name} 和 {other} 共用同一张计算图的一部分（{shared} 及其来源）。backward() 会释放它经过的每一"
              "部分中保存的中间值，所以第二次 backward() 发现共用部分已经被清空。",
    },
    fix={
        "en": "Backpropagate once through the sum: `({other} + {name}).backward()`; or pass "
              "retain_graph=True to the first backward() (it keeps the saved values alive longer).",
        "zh": "对两者之和只做一次反向传播：`({other} + {name}).backward()`；或者在第一次 backward() 时传入 "
              "retain_graph=True（保存的中间值会被保留更久）。",
    },
)
VARIANTS[("no-grad-graph", "no-grad-mode")] = Entry(
    title=CATALOGUE["no-grad-graph"].title,
    message={
        "en": "{name} was computed under `{context}` (line {where}), so it has no graph and "
              "{name}.backward() cannot run.",
        "zh": "{name} 是在 `{context}`（第 {where} 行）下计算的，所以它没有计算图，{name}.backward() "
              "无法执行。",
    },
    cause={
        "en": "Under `{context}` autograd records nothing: results have no grad_fn even when the "
              "parameters require grad. That is right for evaluation, not for a loss you want to "
              "backpropagate.",
        "zh": "在 `{context}` 下自动求导不记录任何运算：即使参数需要梯度，结果也没有 grad_fn。这适用于评估，"
              "但不适用于需要反向传播的损失。",
    },
    fix={
        "en": "Compute {name} outside `{context}`: keep no_grad around evaluation and the manual "
              "parameter update only, not around the forward pass of training.",
        "zh": "在 `{context}` 之外计算 {name}：no_grad 只用于评估和手动更新参数，不要包住训练时的前向计算。",
    },
)
VARIANTS[("no-grad-graph", "nothing-requires-grad")] = Entry(
    title=CATALOGUE["no-grad-graph"].title,
    message={
        "en": "{name} has no graph because none of the tensors in scope requires grad ({leaves}).",
        "zh": "{name} 没有计算图，因为当前作用域中没有任何张量需要梯度（{leaves}）。",
    },
    cause={
        "en": "Autograd only tracks tensors that require grad: created with requires_grad=True or switched "
              "on with .requires_grad_() (nn.Module parameters require grad by default). Here none does, "
              "so no graph was recorded.",
        "zh": "自动求导只跟踪需要梯度的张量：用 requires_grad=True 创建的，或用 .requires_grad_() 打开的"
              "（nn.Module 的参数默认需要梯度）。这里一个都没有，所以没有记录任何计算图。",
    },
    fix={
        "en": "Create the parameters with requires_grad=True, e.g. `{first} = torch.randn(3, 1, "
              "requires_grad=True)`, or call `{first}.requires_grad_()` before the forward pass.",
        "zh": "创建参数时加上 requires_grad=True，例如 `{first} = torch.randn(3, 1, requires_grad=True)`，"
              "或者在前向计算之前调用 `{first}.requires_grad_()`。",
    },
)
VARIANTS[("no-grad-graph", "detached")] = Entry(
    title=CATALOGUE["no-grad-graph"].title,
    message={
        "en": "{name} was cut from the graph by {how} (line {where}), so {name}.backward() has nothing to "
              "go through.",
        "zh": "{name} 在第 {where} 行被 {how} 从计算图上切断了，所以 {name}.backward() 无从反向传播。",
    },
    cause={
        "en": ".detach(), .item(), .data, .numpy() and torch.tensor(...) make values without history: "
              "autograd cannot follow them back to the parameters.",
        "zh": ".detach()、.item()、.data、.numpy() 和 torch.tensor(...) 得到的值没有历史记录：自动求导无法"
              "顺着它们回溯到参数。",
    },
    fix={
        "en": "Call backward() on the tensor before {how}; use .item() or .detach() only for logging.",
        "zh": "对 {how} 之前的那个张量调用 backward()；.item() 和 .detach() 只用于记录日志。",
    },
)
VARIANTS[("dtype-mismatch", "unnamed")] = Entry(
    title=CATALOGUE["dtype-mismatch"].title,
    message={
        "en": "`{code}` mixes {a_dtype} and {b_dtype} tensors, and this operation needs a single dtype.",
        "zh": "`{code}` 混用了 {a_dtype} 和 {b_dtype} 的张量，而这个运算要求 dtype 一致。",
    },
    cause=CATALOGUE["dtype-mismatch"].cause,
    fix={
        "en": "Convert the inputs to one dtype, usually float32 with .float(); for NumPy data use "
              "torch.from_numpy(arr).float() or torch.tensor(data, dtype=torch.float32).",
        "zh": "把输入转换成同一种 dtype，通常用 .float() 转为 float32；对 NumPy 数据可用 "
              "torch.from_numpy(arr).float() 或 torch.tensor(data, dtype=torch.float32)。",
    },
)
VARIANTS[("dtype-mismatch", "target")] = Entry(
    title={"en": "Class targets of the wrong dtype", "zh": "分类标签的 dtype 不对"},
    message={
        "en": "{target} is {target_dtype}, but {loss} needs class indices of dtype int64 (long) as its "
              "target.",
        "zh": "{target} 是 {target_dtype}，但 {loss} 需要 int64（long）类型的类别索引作为标签。",
    },
    cause={
        "en": "cross_entropy and nll_loss take one integer class index per sample. cross_entropy also "
              "accepts float class probabilities with the same shape as the input; nll_loss never does.",
        "zh": "cross_entropy 和 nll_loss 要求每个样本有一个整数类别索引。cross_entropy 也接受与输入形状相同"
              "的浮点类别概率；nll_loss 则从不接受。",
    },
    fix={
        "en": "Convert the targets: `{convert}` (or create them with dtype=torch.long).",
        "zh": "转换标签：`{convert}`（或者创建时就指定 dtype=torch.long）。",
    },
)
VARIANTS[("dtype-mismatch", "float-target")] = Entry(
    title={"en": "Targets of the wrong dtype", "zh": "标签的 dtype 不对"},
    message={
        "en": "{target} is {target_dtype}, but {loss} needs floating-point targets (the input is "
              "{input_dtype}).",
        "zh": "{target} 是 {target_dtype}，但 {loss} 需要浮点数标签（输入是 {input_dtype}）。",
    },
    cause={
        "en": "Binary cross-entropy compares each prediction with a target between 0 and 1, so "
              "the targets must be floating point like the input, even when they hold only 0 and 1.",
        "zh": "二元交叉熵把每个预测与 0 到 1 之间的标签逐一比较，所以即使标签只有 0 和 1，也必须和输入一样是"
              "浮点数。",
    },
    fix={
        "en": "Convert the targets: `{convert}`.",
        "zh": "转换标签：`{convert}`。",
    },
)
VARIANTS[("dtype-mismatch", "indices")] = Entry(
    title={"en": "Indices of the wrong dtype", "zh": "索引的 dtype 不对"},
    message={
        "en": "{name} is {dtype}, but {module} looks rows up by integer index and needs int64 (or int32).",
        "zh": "{name} 是 {dtype}，但 {module} 按整数索引查表，需要 int64（或 int32）。",
    },
    cause={
        "en": "An embedding is a table: its input says which rows to take, so it must hold integers.",
        "zh": "嵌入层就是一张表：它的输入指明要取哪些行，因此必须是整数。",
    },
    fix={
        "en": "Convert the indices: `{convert}` (or create them with dtype=torch.long).",
        "zh": "转换索引：`{convert}`（或者创建时就指定 dtype=torch.long）。",
    },
)
VARIANTS[("dtype-mismatch", "inplace-cast")] = Entry(
    title={"en": "In-place result of another dtype", "zh": "原地操作的结果 dtype 不同"},
    message={
        "en": "{name} is {dtype}, so the {result_dtype} result of this in-place operation cannot be stored "
              "in it.",
        "zh": "{name} 是 {dtype}，这次原地操作得到的 {result_dtype} 结果无法存入其中。",
    },
    cause={
        "en": "In-place operations (+=, add_, ...) write into the existing tensor and keep its dtype; "
              "PyTorch refuses to silently truncate a floating-point result into an integer tensor.",
        "zh": "原地操作（+=、add_ 等）把结果写回原张量并保持它的 dtype；PyTorch 不会悄悄地把浮点结果截断后"
              "存进整数张量。",
    },
    fix={
        "en": "Create {name} as a floating-point tensor (e.g. dtype=torch.float32), or write "
              "`{name} = {name} + ...` to get a new tensor.",
        "zh": "把 {name} 创建为浮点张量（例如 dtype=torch.float32），或者写成 `{name} = {name} + ...` "
              "得到一个新张量。",
    },
)
VARIANTS[("dtype-mismatch", "promotion")] = Entry(
    title={"en": "Result silently promoted to float64", "zh": "结果被悄悄提升为 float64"},
    message={
        "en": "{name} became float64 because {a} is float64 and {b} is {b_dtype}: PyTorch promoted the "
              "result silently.",
        "zh": "{name} 变成了 float64，因为 {a} 是 float64 而 {b} 是 {b_dtype}：PyTorch 悄悄地把结果提升"
              "成了 float64。",
    },
    cause={
        "en": "Elementwise operations between floating-point tensors of different dtypes promote the result "
              "to the wider one instead of failing (a 0-dim tensor does not widen a tensor with "
              "dimensions). float64 is slower (much slower on most GPUs), takes twice the memory, and "
              "spreads to every later result until a float32 layer rejects it.",
        "zh": "不同浮点 dtype 的张量做逐元素运算时不会报错，而是把结果提升到更宽的类型（0 维张量不会让带维度"
              "的张量变宽）。float64 更慢（在大多数 GPU "
              "上慢得多）、占用两倍内存，并会传染给之后的所有结果，直到某个 float32 的层拒绝它为止。",
    },
    fix={
        "en": "Convert the float64 input where it is created: `{convert}` (for NumPy data: "
              "torch.from_numpy(arr).float() or torch.tensor(data, dtype=torch.float32)).",
        "zh": "在创建 float64 输入的地方就转换它：`{convert}`（对 NumPy 数据：torch.from_numpy(arr).float() "
              "或 torch.tensor(data, dtype=torch.float32)）。",
    },
)
VARIANTS[("nan-inf", "from-mask")] = Entry(
    title={"en": "NaN from a -inf mask", "zh": "-inf 掩码产生了 NaN"},
    message={
        "en": "{name} contains NaN after this line ({count} of {numel} values), made from the -inf that "
              "{mask} holds on purpose (a mask or padding).",
        "zh": "这一行执行后，{name} 中出现了 NaN（{numel} 个值中有 {count} 个），它来自 {mask} 中有意放入的 "
              "-inf（掩码或填充）。",
    },
    cause={
        "en": "-inf is fine where softmax turns it into 0, but some arithmetic on it is undefined: softmax "
              "or log_softmax over a row whose values are all -inf (a fully masked row: a query with "
              "nothing to attend to, a sequence of padding only) gives NaN for the whole row, and so do "
              "-inf - (-inf) and -inf * 0.",
        "zh": "softmax 会把 -inf 变成 0，这本身没有问题，但对它的某些运算没有定义：对一整行都是 -inf 的数据"
              "做 softmax 或 log_softmax（整行都被掩盖：某个查询没有可关注的位置，或者序列全是填充）会让整"
              "行都变成 NaN；-inf - (-inf) 和 -inf * 0 也得到 NaN。",
    },
    fix={
        "en": "Keep at least one position unmasked in every row (a causal mask keeps the diagonal), or fill "
              "the masked positions with a large finite negative value such as torch.finfo(dtype).min "
              "instead of -inf: a row of equal values gives a uniform softmax, not NaN.",
        "zh": "让每一行至少保留一个未被掩盖的位置（因果掩码会保留对角线），或者用一个很大的有限负数（例如 "
              "torch.finfo(dtype).min）代替 -inf 填充被掩盖的位置：一整行相同的值经过 softmax 得到均匀分布，"
              "而不是 NaN。",
    },
)
VARIANTS[("shape-mismatch", "linear")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{input} has shape {input_shape} but {module} expects {in_features} input features: the last "
              "dimension of {input} must equal in_features.",
        "zh": "{input} 的形状是 {input_shape}，但 {module} 需要 {in_features} 个输入特征：{input} 的最后一维"
              "必须等于 in_features。",
    },
    cause={
        "en": "nn.Linear(in_features, out_features) multiplies the last dimension of its input by a weight "
              "of shape (out_features, in_features), so that dimension must be exactly in_features ("
              "{in_features}); here it is {got}.",
        "zh": "nn.Linear(in_features, out_features) 用形状为 (out_features, in_features) 的权重去乘输入的最后"
              "一维，所以这一维必须正好等于 in_features（{in_features}）；而这里是 {got}。",
    },
    fix={
        "en": "Give the layer the right size (nn.Linear({got}, ...)), or reshape the input so its last "
              "dimension is {in_features}: flatten images with `{input}.flatten(1)`, transpose with "
              "`{input}.T` if rows and columns are swapped. (A batch of single numbers of shape (N,) for "
              "a layer that takes one feature becomes (N, 1) with `{input}.unsqueeze(-1)`.)",
        "zh": "把层的尺寸改对（nn.Linear({got}, ...)），或者调整输入的形状，使其最后一维等于 {in_features}："
              "图像用 `{input}.flatten(1)` 展平；行列颠倒时用 `{input}.T` 转置。（如果层只接受一个特征，"
              "而输入是一批形状为 (N,) 的单个数值，用 `{input}.unsqueeze(-1)` 把它变成 (N, 1)。）",
    },
)
VARIANTS[("shape-mismatch", "matmul")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{a} has shape {a_shape} and {b} has shape {b_shape}: in {a} @ {b} the inner dimensions must "
              "agree, but they are {k1} and {k2}.",
        "zh": "{a} 的形状是 {a_shape}，{b} 的形状是 {b_shape}：计算 {a} @ {b} 时内侧维度必须相等，但这里分别"
              "是 {k1} 和 {k2}。",
    },
    cause={
        "en": "A matrix product (m×n) @ (n×p) sums over n: the last dimension of the left operand must equal "
              "the first dimension (for batches, the second-to-last) of the right one.",
        "zh": "矩阵乘法 (m×n) @ (n×p) 对 n 求和：左边操作数的最后一维必须等于右边操作数的第一维（批量乘法时"
              "是倒数第二维）。",
    },
    fix={
        "en": "Transpose the operand that is the wrong way round (`{b_t}` or `{a_t}`), or reshape or "
              "unsqueeze so the inner dimensions match; check which dimension holds the features.",
        "zh": "把方向反了的操作数转置（`{b_t}` 或 `{a_t}`），或者用 reshape、unsqueeze 让内侧维度一致；确认"
              "特征在哪一维。",
    },
)
VARIANTS[("shape-mismatch", "view")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{tensor} has {numel} elements (shape {shape}), which cannot be arranged as {target}.",
        "zh": "{tensor} 有 {numel} 个元素（形状 {shape}），无法排成 {target}。",
    },
    cause={
        "en": "view() and reshape() only rearrange elements: the new shape must hold exactly the same "
              "number of elements ({numel}).",
        "zh": "view() 和 reshape() 只是重新排列元素：新形状的元素总数必须与原来完全相同（{numel}）。",
    },
    fix={
        "en": "Fix the sizes so they multiply to {numel}, or let PyTorch infer one dimension with -1, "
              "e.g. `{tensor}.view({first}, -1)`.",
        "zh": "修改各维大小，使它们的乘积等于 {numel}；或者用 -1 让 PyTorch 推断其中一维，例如 "
              "`{tensor}.view({first}, -1)`。",
    },
)
VARIANTS[("shape-mismatch", "view-stride")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{tensor} (shape {shape}) is not contiguous in memory (after .T, transpose or permute), so "
              ".view() cannot reshape it.",
        "zh": "{tensor}（形状 {shape}）在内存中不连续（经过了 .T、transpose 或 permute），所以 .view() 无法"
              "改变它的形状。",
    },
    cause={
        "en": "view() never copies: it needs the elements laid out in a compatible order. Transposed or "
              "permuted tensors often are not.",
        "zh": "view() 从不复制数据：它要求元素在内存中的排列顺序兼容，而转置或重排过维度的张量往往"
              "不满足这一点。",
    },
    fix={
        "en": "Use `{tensor}.reshape(...)` (it copies only when needed) or "
              "`{tensor}.contiguous().view(...)`.",
        "zh": "改用 `{tensor}.reshape(...)`（只在必要时复制），或者 `{tensor}.contiguous().view(...)`。",
    },
)
VARIANTS[("shape-mismatch", "broadcast")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{a} has shape {a_shape} and {b} has shape {b_shape}: they cannot be broadcast together "
              "(dimension {dim}: {n1} vs {n2}).",
        "zh": "{a} 的形状是 {a_shape}，{b} 的形状是 {b_shape}：两者无法广播（第 {dim} 维：{n1} 对 {n2}）。",
    },
    cause={
        "en": "Elementwise operations line shapes up from the right; in each dimension the sizes must be "
              "equal, or one of them 1.",
        "zh": "逐元素运算从右往左对齐两个形状；每一维的大小必须相等，或者其中一个为 1。",
    },
    fix={
        "en": "Line the dimensions up: reshape or unsqueeze one side (e.g. `{b}.unsqueeze(-1)` or "
              "`{b}.view(-1, 1)`), transpose it, or check that both come from the same batch.",
        "zh": "把维度对齐：对其中一方做 reshape 或 unsqueeze（例如 `{b}.unsqueeze(-1)` 或 "
              "`{b}.view(-1, 1)`），或者转置；也要检查两者是否来自同一个批次。",
    },
)
VARIANTS[("shape-mismatch", "broadcast-unnamed")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "`{code}` combines tensors whose sizes differ in dimension {dim} ({n1} vs {n2}), and neither "
              "is 1.",
        "zh": "`{code}` 组合的张量在第 {dim} 维上大小不同（{n1} 对 {n2}），且都不为 1。",
    },
    cause=VARIANTS[("shape-mismatch", "broadcast")].cause,
    fix={
        "en": "Print the shapes of the operands and line them up with reshape, unsqueeze or transpose.",
        "zh": "打印各操作数的形状，再用 reshape、unsqueeze 或转置把它们对齐。",
    },
)
VARIANTS[("shape-mismatch", "inplace-broadcast")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{a} has shape {a_shape}, but combined with {b} (shape {b_shape}) the result has shape "
              "{result}: an in-place operation cannot change the shape of {a}.",
        "zh": "{a} 的形状是 {a_shape}，但与 {b}（形状 {b_shape}）运算后结果的形状是 {result}：原地操作不能"
              "改变 {a} 的形状。",
    },
    cause={
        "en": "An in-place operation writes the result back into the left tensor, so the other operand "
              "must broadcast to the left tensor's shape, not the other way round.",
        "zh": "原地操作把结果写回左边的张量，所以另一个操作数必须能广播成左边张量的形状，而不是反过来。",
    },
    fix={
        "en": "Write `{a} = {a} + ...` to get a new tensor of the broadcast shape, or reshape {b} to fit "
              "{a_shape}.",
        "zh": "写成 `{a} = {a} + ...` 得到一个广播后形状的新张量，或者把 {b} 的形状调整为 {a_shape}。",
    },
)
VARIANTS[("shape-mismatch", "cat")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{a} has shape {a_shape} but {b} has shape {b_shape}: {func} needs equal sizes in every "
              "dimension except dimension {dim}.",
        "zh": "{a} 的形状是 {a_shape}，而 {b} 的形状是 {b_shape}：{func} 要求除第 {dim} 维以外的各维大小都"
              "相等。",
    },
    cause={
        "en": "Concatenation joins tensors along one dimension; all the others must match.",
        "zh": "拼接是沿某一维把张量接起来，其余各维必须一致。",
    },
    fix={
        "en": "Make the other dimensions match (reshape, pad or slice the odd tensor), or concatenate "
              "along another dimension with dim=....",
        "zh": "让其余各维一致（对不匹配的张量做 reshape、填充或切片），或者用 dim=... 沿另一维拼接。",
    },
)
VARIANTS[("shape-mismatch", "stack")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{a} has shape {a_shape} but {b} has shape {b_shape}: {func} needs every tensor to have "
              "exactly the same shape.",
        "zh": "{a} 的形状是 {a_shape}，而 {b} 的形状是 {b_shape}：{func} 要求所有张量的形状完全相同。",
    },
    cause={
        "en": "stack adds a new dimension and places the tensors side by side along it, so they must all "
              "have the same shape.",
        "zh": "stack 会新增一个维度，把各张量沿这一维并排放置，因此它们的形状必须完全相同。",
    },
    fix={
        "en": "Reshape, pad or slice the odd tensor, or use torch.cat if you meant to join along an "
              "existing dimension.",
        "zh": "对不匹配的张量做 reshape、填充或切片；如果本意是沿已有的维度拼接，请用 torch.cat。",
    },
)
VARIANTS[("shape-mismatch", "loss")] = Entry(
    title={"en": "Loss input and target do not fit", "zh": "损失函数的输入与标签形状不匹配"},
    message={
        "en": "{loss} got {input} with shape {input_shape} and {target} with shape {target_shape}, which "
              "do not fit together.",
        "zh": "{loss} 收到的 {input} 形状为 {input_shape}，{target} 形状为 {target_shape}，两者不匹配。",
    },
    cause={
        "en": "Classification losses (cross_entropy, nll_loss) take input (N, C) and N class indices, "
              "shape (N,). Binary losses (binary_cross_entropy, binary_cross_entropy_with_logits) need "
              "target and input of the same shape; regression losses (mse_loss, l1_loss) broadcast them, "
              "with a warning, and fail only when they cannot. N must be the same batch.",
        "zh": "分类损失（cross_entropy、nll_loss）的输入形状为 (N, C)，标签是 N 个类别索引，形状为 (N,)。"
              "二分类损失（binary_cross_entropy、binary_cross_entropy_with_logits）要求标签与输入形状相同；"
              "回归损失（mse_loss、l1_loss）会把两者广播（并给出警告），只有无法广播时才报错。N 必须来自同一"
              "个批次。",
    },
    fix={
        "en": "Class indices: `{target}.view(-1)`; same-shape losses: `{target}.view_as({input})` or "
              "`{input}.squeeze(-1)`; and check that input and target come from the same batch.",
        "zh": "类别索引：用 `{target}.view(-1)`；要求同形状的损失：用 `{target}.view_as({input})` 或 "
              "`{input}.squeeze(-1)`；并检查输入和标签是否来自同一个批次。",
    },
)
VARIANTS[("shape-mismatch", "layer")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{input} has shape {input_shape}, which {module} ({layer}) cannot take: {detail}",
        "zh": "{input} 的形状是 {input_shape}，{module}（{layer}）无法接受：{detail}",
    },
    cause={
        "en": "Each layer expects a particular layout: Conv2d (N, C, H, W) or (C, H, W) with C = "
              "in_channels, BatchNorm1d (N, C) or (N, C, L) with C = num_features, LayerNorm (..., "
              "normalized_shape), LSTM (L, N, input_size), (N, L, input_size) with batch_first=True, or "
              "(L, input_size) for one sequence.",
        "zh": "每种层都要求特定的数据布局：Conv2d 为 (N, C, H, W) 或 (C, H, W)，且 C = in_channels；"
              "BatchNorm1d 为 (N, C) 或 (N, C, L)，且 C = num_features；LayerNorm 为 (..., "
              "normalized_shape)；LSTM 为 (L, N, input_size)，batch_first=True 时为 (N, L, input_size)，"
              "单个序列为 (L, input_size)。",
    },
    fix={
        "en": "Check the layer's sizes against the data: add a batch or channel dimension with "
              "`{input}.unsqueeze(0)` or `.unsqueeze(1)`, reorder with .permute(...), or change the layer's "
              "size argument.",
        "zh": "对照数据检查层的尺寸：用 `{input}.unsqueeze(0)` 或 `.unsqueeze(1)` 补上批次维或通道维，用 "
              ".permute(...) 调整维度顺序，或者修改层的尺寸参数。",
    },
)
VARIANTS[("shape-mismatch", "item")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{tensor} has {numel} elements, but .item() and float() need exactly one.",
        "zh": "{tensor} 有 {numel} 个元素，而 .item() 和 float() 要求恰好只有一个元素。",
    },
    cause={
        "en": "A Python number holds one value; PyTorch will not pick one of several for you.",
        "zh": "一个 Python 数只能保存一个值；PyTorch 不会替你从多个值中挑一个。",
    },
    fix={
        "en": "Reduce it first (`{tensor}.mean().item()`, `{tensor}.sum().item()`), pick one element "
              "(`{tensor}[0].item()`), or use `{tensor}.tolist()` for all values.",
        "zh": "先归约（`{tensor}.mean().item()`、`{tensor}.sum().item()`），或取出一个元素"
              "（`{tensor}[0].item()`），或用 `{tensor}.tolist()` 取出全部值。",
    },
)
VARIANTS[("shape-mismatch", "dim")] = Entry(
    title=CATALOGUE["shape-mismatch"].title,
    message={
        "en": "{tensor} has {ndim} dimensions (shape {shape}), so there is no dimension {dim}.",
        "zh": "{tensor} 只有 {ndim} 个维度（形状 {shape}），所以不存在第 {dim} 维。",
    },
    cause={
        "en": "Dimensions are numbered from 0 to ndim-1 (or from -1 backwards). The tensor has fewer "
              "dimensions than the code assumes: a missing batch dimension, or one squeezed away.",
        "zh": "维度从 0 编号到 ndim-1（或者从 -1 倒着数）。这个张量的维度比代码假设的少：可能缺了批次维，或"
              "者某一维被 squeeze 掉了。",
    },
    fix={
        "en": "Use a dimension that exists (dim=-1 for the last one), or add the missing dimension with "
              "`{tensor}.unsqueeze(0)`.",
        "zh": "使用存在的维度（最后一维用 dim=-1），或者用 `{tensor}.unsqueeze(0)` 补上缺少的维度。",
    },
)
VARIANTS[("script-error", "interrupt")] = Entry(
    title={"en": "The script was interrupted", "zh": "脚本被中断"},
    message={
        "en": "The script was interrupted (KeyboardInterrupt) at line {line}.",
        "zh": "脚本在第 {line} 行被中断（KeyboardInterrupt）。",
    },
    cause={
        "en": "Ctrl+C was pressed (or the process received SIGINT) while the script was running.",
        "zh": "脚本运行时按下了 Ctrl+C（或者进程收到了 SIGINT 信号）。",
    },
    fix={
        "en": "Nothing to fix if you meant to stop it; if the script seems stuck, step through it with "
              "`tensorscope run` to see where the time goes.",
        "zh": "如果是有意停止，则无需修改；如果脚本似乎卡住了，可以用 `tensorscope run` 单步执行，看看时间"
              "花在了哪里。",
    },
)
VARIANTS[("script-error", "embedding-range")] = Entry(
    title={"en": "Embedding index out of range", "zh": "嵌入层索引越界"},
    message={
        "en": "{name} holds the index {largest}, but {module} has only {rows} rows (valid indices: 0 to "
              "{last}).",
        "zh": "{name} 中有索引 {largest}，但 {module} 只有 {rows} 行（有效索引为 0 到 {last}）。",
    },
    cause={
        "en": "An embedding is a table with num_embeddings rows; every index must be from 0 to "
              "num_embeddings - 1. Usually the vocabulary or the number of classes grew, or an index "
              "(padding, unknown token) was added after the layer was created.",
        "zh": "嵌入层是一张有 num_embeddings 行的表，每个索引都必须在 0 到 num_embeddings - 1 之间。"
              "常见原因是词表或类别数变大了，或者在创建该层之后又加入了新的索引（填充符、未知词）。",
    },
    fix={
        "en": "Create the layer with enough rows: nn.Embedding({needed}, ...) or the size of the full "
              "vocabulary; or check how {name} is built.",
        "zh": "创建该层时留足行数：nn.Embedding({needed}, ...) 或完整词表的大小；或者检查 {name} 是怎么"
              "构造的。",
    },
)
VARIANTS[("script-error", "grad-none")] = Entry(
    title={"en": ".grad is None", "zh": ".grad 为 None"},
    message={
        "en": "{name}.grad is None, so `{code}` fails: {name} has no gradient yet.",
        "zh": "{name}.grad 是 None，所以 `{code}` 失败了：{name} 还没有梯度。",
    },
    cause={
        "en": ".grad stays None until a backward() reaches the tensor: before the first backward(), when "
              "{name} does not require grad, or when the loss does not depend on {name}.",
        "zh": "在 backward() 到达该张量之前，.grad 一直是 None：第一次 backward() 之前、{name} 不需要梯度、"
              "或者损失并不依赖于 {name} 时都是如此。",
    },
    fix={
        "en": "Call backward() first, create {name} with requires_grad=True, and guard optional gradients "
              "with `if {name}.grad is not None:`.",
        "zh": "先调用 backward()，创建 {name} 时设置 requires_grad=True，并用 `if {name}.grad is not None:` "
              "处理可能没有梯度的情况。",
    },
)
VARIANTS[("script-error", "grad-none-nonleaf")] = Entry(
    title={"en": ".grad of a non-leaf tensor is None", "zh": "非叶子张量的 .grad 为 None"},
    message={
        "en": "{name}.grad is None because {name} is not a leaf: it was computed from other tensors "
              "(grad_fn {grad_fn}), and PyTorch only fills .grad of leaves.",
        "zh": "{name}.grad 是 None，因为 {name} 不是叶子张量：它是由其他张量计算得到的（grad_fn 为 "
              "{grad_fn}），而 PyTorch 只为叶子张量填写 .grad。",
    },
    cause={
        "en": "A tensor made by an operation, such as torch.randn(3, requires_grad=True) * 0.01, is an "
              "intermediate result: backward() passes through it but does not keep its gradient.",
        "zh": "由运算得到的张量（例如 torch.randn(3, requires_grad=True) * 0.01）是中间结果：backward() 会"
              "经过它，但不会保留它的梯度。",
    },
    fix={
        "en": "Create {name} as a leaf: `{name} = (torch.randn(...) * 0.01).requires_grad_()` or wrap it in "
              "nn.Parameter; call `{name}.retain_grad()` only if you want the gradient of an intermediate "
              "value.",
        "zh": "把 {name} 创建为叶子张量：`{name} = (torch.randn(...) * 0.01).requires_grad_()`，或者用 "
              "nn.Parameter 包装；只有在需要中间值的梯度时才调用 `{name}.retain_grad()`。",
    },
)


class _Lenient(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, data: dict[str, str]) -> str:
    return string.Formatter().vformat(template, (), _Lenient(data))


CAUGHT: dict[str, str] = {"en": " (caught at line {caught})", "zh": "（在第 {caught} 行被捕获）"}
"""Added to the message of a pitfall the script caught (`caught`: the handler's line)."""
CAUGHT_IN_FILE: dict[str, str] = {"en": " (caught at line {caught} of {caught_file})",
                                  "zh": "（在 {caught_file} 第 {caught} 行被捕获）"}
"""The same, when the handler is in another file than the line that raised."""


def render(code: str, lang: str, data: dict[str, str] | None = None) -> Text:
    """The explanation of `code` in `lang` (falls back to English), filled with `data`."""
    values = {k: str(v) for k, v in (data or {}).items()}
    entry = VARIANTS.get((code, values.get("variant", ""))) or CATALOGUE.get(code)
    if entry is None:
        return Text(code, code, values.get("message", code), "", values.get("hint", ""))

    def pick(texts: dict[str, str]) -> str:
        return _fill(texts.get(lang) or texts["en"], values)

    message = pick(entry.message)
    if "caught" in values:
        message += pick(CAUGHT_IN_FILE if "caught_file" in values else CAUGHT)
    return Text(code, pick(entry.title), message, pick(entry.cause), pick(entry.fix))
