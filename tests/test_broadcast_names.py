"""`broadcast-expand` names what the user wrote at the flagged line (`net(X)`, `y`, `target`), never
PyTorch's parameter names, and its fix (`y.unsqueeze(1)`, `y.view(-1, 1)`, `pred.squeeze(1)`) really
removes the broadcast when applied to that line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from forked_python import forked_python
from torch import nn

from tensorscope.checks import default_checks
from tensorscope.engine.session import Session
from tensorscope.explain.catalogue import render
from tensorscope.model import Flag, Trace
from tests.test_checks_live import Write, assert_transparent, line_of

HEAD = """
import warnings
import torch
import torch.nn.functional as F
from torch import nn
warnings.simplefilter("ignore")
torch.manual_seed(0)
X = torch.randn(8, 3)
y = torch.randn(8)
net = nn.Linear(3, 1)
"""


def run(path: Path) -> Trace:
    session = Session(str(path), monitors=default_checks())
    trace = session.run(timeout=120)
    assert session.internal_errors == []
    return trace


def the_flag(path: Path, trace: Trace | None = None) -> Flag:
    """The run's only broadcast-expand flag, at the line marked `# <- here`."""
    (flag,) = [f for f in (trace or run(path)).flags if f.code == "broadcast-expand"]
    assert flag.line == line_of(path, "# <- here")
    return flag


def assert_names(flag: Flag, expr: str, col: str, vec: str) -> None:
    """The flag names the operands as written, and its fix reshapes them by those names (EN and ZH)."""
    data = flag.data
    assert (data["expr"], data["col"], data["vec"]) == (expr, col, vec)
    assert (data["col_shape"], data["vec_shape"], data["out_shape"]) == ("8×1", "8", "8×8")
    assert (data["vec_fix"], data["vec_view"], data["col_fix"]) == (
        f"{vec}.unsqueeze(1)", f"{vec}.view(-1, 1)", f"{col}.squeeze(1)")
    assert flag.message.startswith(f"`{expr}`: {col} (shape 8×1) and {vec} (shape 8) broadcast to 8×8")
    assert flag.hint.startswith(f"Make the shapes match: `{vec}.unsqueeze(1)` (or `{vec}.view(-1, 1)`) "
                                f"makes {vec} a column of shape 8×1 like {col}, or `{col}.squeeze(1)` makes "
                                f"{col} a vector of shape 8 like {vec}.")
    zh = render("broadcast-expand", "zh", data)
    assert zh.message.startswith(f"`{expr}`：{col}（形状 8×1）与 {vec}（形状 8）被广播成 8×8")
    assert zh.fix.startswith(f"让形状一致：`{vec}.unsqueeze(1)`（或 `{vec}.view(-1, 1)`）把 {vec} "
                             f"变成与 {col} 一样形状为 8×1 的列，或 `{col}.squeeze(1)` 把 {col} 变成与 {vec} "
                             f"一样形状为 8 的向量")
    for text in (flag.message, flag.hint, zh.message, zh.fix):
        assert not re.search(r"\b(input|target)\b", text) or "target" in (col, vec)


# --- names ------------------------------------------------------------------------------------------------

def test_functional_mse_loss_on_a_call_and_a_name(write_script: Write) -> None:
    path = write_script(HEAD + """
for step in range(3):
    loss = F.mse_loss(net(X), y)        # <- here
    print(loss.shape)
""")
    trace = run(path)
    flag = the_flag(path, trace)
    assert_names(flag, "mse_loss(net(X), y)", "net(X)", "y")
    assert flag.tensors == ("y",)
    assert_transparent(path, trace)


def test_functional_l1_loss_on_names(write_script: Write) -> None:
    path = write_script(HEAD + """
pred = net(X)
loss = F.l1_loss(pred, y)               # <- here
""")
    flag = the_flag(path)
    assert_names(flag, "l1_loss(pred, y)", "pred", "y")
    assert set(flag.tensors) == {"pred", "y"}


def test_keywords_in_either_order(write_script: Write) -> None:
    path = write_script(HEAD + """
loss = F.mse_loss(target=y, input=net(X))   # <- here
""")
    assert_names(the_flag(path), "mse_loss(net(X), y)", "net(X)", "y")


def test_a_loss_module_built_on_the_line(write_script: Write) -> None:
    path = write_script(HEAD + """
for step in range(2):
    loss = nn.MSELoss()(net(X), y)      # <- here
""")
    trace = run(path)
    assert_names(the_flag(path, trace), "mse_loss(net(X), y)", "net(X)", "y")
    assert_transparent(path, trace)


def test_a_named_l1_loss_module_on_a_call_and_on_names(write_script: Write) -> None:
    source = HEAD + """
criterion = nn.L1Loss()
pred = net(X)
a = criterion(pred, y)                  # <- names
b = criterion(net(X), y)                # <- call
"""
    path = write_script(source)
    flags = {f.line: f for f in run(path).flags if f.code == "broadcast-expand"}
    assert set(flags) == {line_of(path, "# <- names"), line_of(path, "# <- call")}
    assert_names(flags[line_of(path, "# <- names")], "l1_loss(pred, y)", "pred", "y")
    assert_names(flags[line_of(path, "# <- call")], "l1_loss(net(X), y)", "net(X)", "y")


def test_loss_fn_a_global_module(write_script: Write) -> None:
    path = write_script(HEAD + """
loss_fn = nn.MSELoss()
for step in range(3):
    pred = net(X)
    loss = loss_fn(pred, y)             # <- here
""")
    assert_names(the_flag(path), "mse_loss(pred, y)", "pred", "y")


def test_loss_fn_an_attribute_of_a_trainer(write_script: Write) -> None:
    path = write_script(HEAD + """
class Trainer:
    def __init__(self):
        self.net = net
        self.loss_fn = nn.MSELoss()

    def step(self, xb, yb):
        return self.loss_fn(self.net(xb), yb)   # <- here

trainer = Trainer()
for step in range(2):
    trainer.step(X, y)
""")
    flag = the_flag(path)
    assert flag.function == "step"
    assert_names(flag, "mse_loss(self.net(xb), yb)", "self.net(xb)", "yb")


def test_squared_loss_written_out_in_a_function_called_from_the_loop(write_script: Write) -> None:
    path = write_script(HEAD + """
def squared_loss(y_hat, y):
    return ((y_hat - y) ** 2 / 2).mean()   # <- here

labels = y
for step in range(3):
    l = squared_loss(net(X), labels)
""")
    flag = the_flag(path)
    assert flag.function == "squared_loss"
    assert_names(flag, "y_hat - y", "y_hat", "y")
    assert set(flag.tensors) == {"y_hat", "y"}


def test_the_name_at_the_line_not_an_earlier_alias(write_script: Write) -> None:
    path = write_script(HEAD + """
y_pred = net(X)
target = y
diff = y_pred - target                  # <- here
""")
    flag = the_flag(path)
    assert_names(flag, "y_pred - target", "y_pred", "target")
    assert set(flag.tensors) == {"y_pred", "target"}


def test_the_callees_names_not_the_callers(write_script: Write) -> None:
    path = write_script(HEAD + """
def loss_of(pred, target):
    return F.mse_loss(pred, target)     # <- here

out = net(X)
print(loss_of(out, y).shape)
""")
    assert_names(the_flag(path), "mse_loss(pred, target)", "pred", "target")


def test_a_column_target_against_a_vector_prediction(write_script: Write) -> None:
    path = write_script(HEAD + """
pred = net(X).squeeze(1)
y_col = y.unsqueeze(1)
loss = F.mse_loss(pred, y_col)          # <- here
""")
    assert_names(the_flag(path), "mse_loss(pred, y_col)", "y_col", "pred")


def test_an_expression_operand_is_parenthesised(write_script: Write) -> None:
    path = write_script(HEAD + """
loss = ((net(X) * 2 - y) ** 2).mean()   # <- here
""")
    assert_names(the_flag(path), "net(X) * 2 - y", "(net(X) * 2)", "y")


def test_operands_the_line_does_not_show_are_described_not_misnamed(write_script: Write) -> None:
    path = write_script(HEAD + """
loss = F.mse_loss(*[net(X), y])         # <- here
""")
    flag = the_flag(path)
    assert flag.data["variant"] == "unnamed"
    assert flag.message == ("`loss = F.mse_loss(*[net(X), y])`: a column of shape 8×1 and a vector of "
                            "shape 8 broadcast to 8×8, pairing every element of one with every element of "
                            "the other.")
    assert "`.unsqueeze(1)` (or `.view(-1, 1)`) on the vector makes it a column of shape 8×1" in flag.hint
    zh = render("broadcast-expand", "zh", flag.data)
    assert "一个形状为 8×1 的列与一个形状为 8 的向量被广播成 8×8" in zh.message and "`.squeeze(1)`" in zh.fix


# --- the fix, run -------------------------------------------------------------------------------------------

FIX_CASES = {
    "functional": "loss = F.mse_loss(net(X), y)",
    "module": "loss = nn.L1Loss()(net(X), y)",
    "global-loss-fn": "loss = loss_fn(pred, y)",
    "written-out": "loss = ((pred - y) ** 2).mean()",
}
WARNING_HEAD = HEAD.replace('warnings.simplefilter("ignore")\n', "")


@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")  # (the unfixed script's own warning)
@pytest.mark.parametrize("case", sorted(FIX_CASES))
@pytest.mark.parametrize("which", ["vec_fix", "vec_view", "col_fix"])
def test_the_suggested_fix_removes_the_broadcast(write_script: Write, case: str, which: str) -> None:
    statement = FIX_CASES[case]
    source = WARNING_HEAD + f"""
loss_fn = nn.MSELoss()
pred = net(X)
{statement}                             # <- here
print(tuple(loss.shape), round(loss.item(), 6))
"""
    path = write_script(source)
    flag = the_flag(path)
    data = flag.data
    old = data["vec"] if which.startswith("vec") else data["col"]
    new = data[which]
    lines = path.read_text().splitlines()
    n = line_of(path, "# <- here") - 1
    code = lines[n].split("#", 1)[0]
    spots = [m.start() for m in re.finditer(rf"(?<![\w.]){re.escape(old)}(?![\w(])", code)]
    assert len(spots) == 1, (old, code)
    lines[n] = code[:spots[0]] + new + code[spots[0] + len(old):]
    fixed = write_script("\n".join(lines) + "\n", name="fixed.py")
    trace = run(fixed)
    assert [f for f in trace.flags if f.code == "broadcast-expand"] == []
    plain = forked_python(fixed)
    assert (plain.returncode, plain.stderr) == (0, "")  # (no "Using a target size" warning either)
    # the fixed loss pairs each prediction with its own target: the same number whichever side is reshaped
    pred, y = _tensors()
    err = pred.squeeze(1) - y
    expected = err.abs().mean() if "L1Loss" in statement else (err ** 2).mean()
    assert plain.stdout.strip() == f"() {round(expected.item(), 6)}"
    assert trace.stdout == plain.stdout and trace.exception is None


def _tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """`pred` and `y` as the scripts compute them (their HEAD, run here)."""
    torch.manual_seed(0)
    X = torch.randn(8, 3)
    y = torch.randn(8)
    net = nn.Linear(3, 1)
    with torch.no_grad():
        return net(X), y
