"""The narration is never ambiguous or cut mid-sentence: whole sentences, every changed tensor accounted for,
a flag named once; in English and Chinese."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from pilot_support import paused, wait_until

from tensorscope.diff import narrate
from tensorscope.engine import Session
from tensorscope.model import Flag, Step
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.history import History
from tensorscope.tui.narration import LINES, Narration, intro_content, narration_content
from tensorscope.tui.wrap import wrap_spans

SIX = """\
import torch
a, b, c, d, e, f = (torch.zeros(2), torch.ones(1), torch.tensor(3.0), torch.zeros(4, 1), torch.ones(2, 2),
                    torch.ones(3))
a += 1; b += 1; c += 1; d += 1; e += 1; f += 1
def g(a, b, c, d, e, f):
    return a
g(a, b, c, d, e, f)
print()
"""


def steps_of(path: Path) -> list[Step]:
    return list(Session(str(path)).record().steps)


def after(steps: list[Step], line: int) -> int:
    return next(i for i, s in enumerate(steps) if s.prev_line == line)


def test_six_tensors_created_are_all_named_in_one_sentence(write_script: Callable[..., Path]) -> None:
    steps = steps_of(write_script(SIX))
    i = after(steps, 2)
    assert narrate(steps[i - 1], steps[i]) == [
        "created a (shape 2), b (shape 1), c (shape ()) and 3 more: d, e, f"]
    assert narrate(steps[i - 1], steps[i], "zh") == [
        "新建 a（形状 2）、b（形状 1）、c（形状 ()） 和 另外 3 个：d、e、f"]


def test_six_tensors_changed_the_rest_are_counted_never_dropped(write_script: Callable[..., Path]) -> None:
    steps = steps_of(write_script(SIX))
    i = after(steps, 4)
    for lang, more in (("en", "more changes (see Tensors)"), ("zh", "处变化（见张量表）")):
        said = narrate(steps[i - 1], steps[i], lang)
        assert len(said) == 6 and all(s.split()[0] in "abcdef" for s in said)
        for width in (60, 78, 118):
            text = narration_content(said, lang, width=width).plain
            assert len(wrap_spans(text, width)) <= LINES
            sep = "；" if lang == "zh" else "; "
            shown = text.split("：" if lang == "zh" else ": ", 1)[1].split(sep)
            assert more in shown[-1]
            count = int(next(tok for tok in shown[-1].split() if tok.isdigit()))
            assert all(s in said for s in shown[:-1]) and len(shown) - 1 + count == len(said)


def test_entering_a_call_with_many_names_counts_the_rest(write_script: Callable[..., Path]) -> None:
    steps = steps_of(write_script(SIX))
    i = next(i for i, s in enumerate(steps) if s.function == "g")
    assert narrate(steps[i - 1], steps[i]) == ["entered g(): a, b, c and 3 more in scope"]
    assert narrate(steps[i - 1], steps[i], "zh") == ["进入 g()：可见 a、b、c 和 另外 3 个"]


def test_no_sentence_ends_in_an_ellipsis_before_and(write_script: Callable[..., Path]) -> None:
    path = write_script("import torch\nw = torch.ones(4, 3, requires_grad=True)\nb = torch.ones(1, "
                        "requires_grad=True)\n(torch.ones(2, 4) @ w + b).sum().backward()\nprint()\n")
    steps = steps_of(path)
    i = after(steps, 4)
    said = narrate(steps[i - 1], steps[i], ran="(x @ w + b).sum().backward()")
    assert said == ["backward() wrote w.grad (4×3) and b.grad = [6]"]  # ([[2, 2, 2], ...] is too long)
    assert "…" not in said[0]


def test_a_sentence_is_never_repeated() -> None:
    text = narration_content(["x = 1 (was 0)", "x = 1 (was 0)"], width=80).plain
    assert text.count("x = 1") == 1


def test_the_summary_is_never_cut() -> None:
    about = "Linear regression y = 2x + 1 by manual SGD: forward, loss, backward, update under no_grad, " \
            "zero the grads."
    assert intro_content(about, "press n", 120).plain == f"✎ {about}\npress n"
    narrow = intro_content(about, "press n", 78).plain
    assert narrow == f"✎ {about}" and len(wrap_spans(narrow, 78)) <= LINES


def flag(code: str, line: int) -> Flag:
    return Flag(code=code, severity="warning", line=line, function="<module>", message="m", hint="h")


async def test_a_flag_raised_twice_is_named_once(write_script: Callable[..., Path]) -> None:
    steps = steps_of(write_script("x = 1\ny = 2\nprint()\n"))
    history = History()
    history.append(steps[0])
    twice = replace(steps[1], flags=(flag("grad-accumulation", 1), flag("grad-accumulation", 1)))
    history.append(twice)
    history.go_last()
    app = TensorScopeApp(str(write_script("x = 1\n", "other.py")))
    async with app.run_test(size=(120, 40)) as pilot:
        await paused(pilot, app)
        narration = app.query_one(Narration)
        narration.show_step(history, "x = 1", "en")
        assert sum("grad-accumulation" in s for s in narration.sentences) == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_on_screen_in_both_languages(write_script: Callable[..., Path], size: tuple[int, int],
                                           lang: str) -> None:
    app = TensorScopeApp(str(write_script(SIX)), lang=lang)
    async with app.run_test(size=size) as pilot:
        await paused(pilot, app)
        for n in (1, 2, 4):
            await pilot.press("n")
            await wait_until(pilot, lambda n=n: app.current_step is not None
                             and app.current_step.prev_line == n and app.state == "paused", f"line {n} run")
        narration = app.query_one(Narration)
        text = str(narration.render())
        assert len(wrap_spans(text, narration.content_size.width)) <= LINES, text
        assert ("more changes" if lang == "en" else "处变化") in text


def test_many_gradients_written_are_named_without_values(write_script: Callable[..., Path]) -> None:
    path = write_script("import torch\nnet = torch.nn.Sequential(torch.nn.Linear(3, 4), "
                        "torch.nn.Linear(4, 1))\nloss = net(torch.ones(2, 3)).sum()\n"
                        "loss.backward()\nprint()\n")
    steps = steps_of(path)
    i = after(steps, 4)
    assert narrate(steps[i - 1], steps[i], ran="loss.backward()")[0] == (
        "backward() wrote net.0.weight.grad, net.0.bias.grad, net.1.weight.grad and net.1.bias.grad")
    assert narrate(steps[i - 1], steps[i], "zh", ran="loss.backward()")[0] == (
        "backward() 写入 net.0.weight.grad、net.0.bias.grad、net.1.weight.grad 和 net.1.bias.grad")


def test_a_large_tensor_changed_in_place_is_said_by_its_mean(write_script: Callable[..., Path]) -> None:
    steps = steps_of(write_script("import torch\nx = torch.zeros(50, 50)\nx += 2\nprint()\n"))
    i = after(steps, 3)
    assert narrate(steps[i - 1], steps[i]) == ["x changed in place (version 0 → 1): mean 0 → 2"]
    assert narrate(steps[i - 1], steps[i], "zh") == ["x 被原地修改（版本 0 → 1）：均值 0 → 2"]
