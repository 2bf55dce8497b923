"""Narration of version changes: a view whose base was written is not said to have changed in place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tensorscope.diff import narrate
from tensorscope.engine import Session


def narration_of(path: Path, line: int, lang: str = "en") -> list[str]:
    """What the narration says after `line` ran."""
    steps = list(Session(str(path)).record().steps)
    i = next(i for i, s in enumerate(steps) if s.prev_line == line)
    return narrate(steps[i - 1], steps[i], lang)


VIEW = """
import torch
x = torch.zeros(2, 3)
last_col = x[:, -1]
x[:, 0] = 5
x[:, -1] = 7
"""


def test_a_view_whose_base_was_written_elsewhere_names_the_base(write_script: Callable[..., Path]) -> None:
    said = narration_of(write_script(VIEW), 4)
    assert said[0].startswith("x changed in place (version 0 → 1)")
    assert said[1] == ("last_col's version went 0 → 1 with the in-place change to x (a view shares its "
                       "base's version counter); its shown values did not change")
    assert not any(s.startswith("last_col changed in place") for s in said)


def test_the_same_in_chinese(write_script: Callable[..., Path]) -> None:
    said = narration_of(write_script(VIEW), 4, "zh")
    assert said[1] == ("last_col 的版本号随 x 的原地修改从 0 变为 1（视图与其基张量共用版本计数器）；"
                       "它显示的值没有变")


def test_a_view_whose_own_values_were_written_changed_in_place(write_script: Callable[..., Path]) -> None:
    said = narration_of(write_script(VIEW), 5)
    assert "last_col changed in place (version 1 → 2): [0, 0] → [7, 7]" in said


def test_an_in_place_op_that_keeps_the_values_is_not_called_a_change(
        write_script: Callable[..., Path]) -> None:
    path = write_script("import torch\ny = torch.ones(3)\ny.relu_()\nprint()\n")
    assert narration_of(path, 3) == [
        "y's version went 0 → 1 but its shown values did not change: an in-place op left them as they were, "
        "or its base or another view of it was written"]
    assert narration_of(path, 3, "zh")[0].startswith("y 的版本号 0 → 1，但显示的值没有变")


def test_a_large_view_names_the_base_without_claiming_its_values(write_script: Callable[..., Path]) -> None:
    path = write_script("import torch\nx = torch.zeros(100, 100)\ncol = x[:, -1]\nx[:, 0] = 1\nprint()\n")
    said = narration_of(path, 4)
    assert ("col's version went 0 → 1 with the in-place change to x (a view shares its base's version "
            "counter)") in said


def test_a_name_bound_to_a_tensor_with_a_lower_version_is_a_new_value(
        write_script: Callable[..., Path]) -> None:
    path = write_script("import torch\na = torch.ones(2)\na.add_(1)\na = torch.zeros(2)\nprint()\n")
    assert narration_of(path, 4) == ["a = [0, 0] (was [2, 2])"]


def test_claim_a_view_shares_its_base_version_counter() -> None:
    import torch

    x = torch.zeros(2, 3)
    last_col = x[:, -1]
    x[:, 0] = 5
    assert x._version == last_col._version == 1 and torch.equal(last_col, torch.zeros(2))
    sibling = x[:, 1]
    sibling.fill_(1)  # another view of the same base moves it too
    assert last_col._version == x._version == 2
    y = torch.ones(3)
    y.relu_()  # an in-place op that leaves the values as they were still counts
    assert y._version == 1 and torch.equal(y, torch.ones(3))


def test_claim_grad_mode_off_records_no_new_operations(write_script: Callable[..., Path]) -> None:
    import torch

    w = torch.ones(2, requires_grad=True)
    for mode in (torch.no_grad, torch.inference_mode, lambda: torch.set_grad_enabled(False)):
        with mode():
            assert not torch.is_grad_enabled() and (w * 2).grad_fn is None
    path = write_script("import torch\nwith torch.no_grad():\n    x = torch.ones(1)\nprint()\n")
    steps = list(Session(str(path)).record().steps)
    off = next(i for i, s in enumerate(steps) if not s.grad_enabled)
    said = {"en": "new operations are not recorded for backward", "zh": "新的运算不会被记录下来"}
    for lang, text in said.items():
        assert any(text in s for s in narrate(steps[off - 1], steps[off], lang))


CAUGHT = """
import torch
y = torch.ones(3, requires_grad=True) * 2
try:
    y.backward()
except RuntimeError as e:
    print("error:", e)
"""


def test_the_jump_to_a_handler_says_where_it_was_raised_and_caught(write_script: Callable[..., Path]) -> None:
    steps = list(Session(str(write_script(CAUGHT))).record().steps)
    i = next(i for i, s in enumerate(steps) if s.raised is not None)
    assert steps[i].line == 5 and steps[i].raised.caught_line == 5  # paused at the handler
    said = narrate(steps[i - 1], steps[i])
    assert said[0] == ("line 4 raised RuntimeError, caught here at line 5: grad can be implicitly created "
                       "only for scalar outputs")
    zh = narrate(steps[i - 1], steps[i], "zh")[0]
    assert zh.startswith("第 4 行抛出 RuntimeError，在这里第 5 行被捕获：")


GEN = """
import torch
def gen():
    yield torch.ones(1)
w = torch.full((1, 1), 1.5, requires_grad=True)
for v in gen():
    print("value", v.item())
"""


def test_created_puts_the_values_first_a_print_is_said_and_a_yield_is_not_a_return(
        write_script: Callable[..., Path]) -> None:
    path = write_script(GEN)
    assert narration_of(path, 4) == ["w created: [[1.5]] — 1×1, float32, requires_grad"]
    assert narration_of(path, 6) == ["printed 'value 1.0'"]
    assert narration_of(path, 6, "zh") == ["输出了 'value 1.0'"]
    steps = list(Session(str(path)).record().steps)
    i = next(i for i, s in enumerate(steps) if s.event == "return")
    assert narrate(steps[i], steps[i + 1])[0] == (
        "gen() yielded a value (it resumes there when asked for the next one)")
