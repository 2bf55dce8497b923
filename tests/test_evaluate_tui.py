"""The evaluation prompt (`:`), watches (`:watch`, `W`) and saving a session (`ctrl+s`), driven through the
pilot as a user would: keys in, panes out; at 120x40 and 80x24, in English and Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from pilot_support import wait_until

from tensorscope.model import Evaluation, PauseReason, Step, Trace
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.evaluation import cut, evaluation_content
from tensorscope.tui.help import KEYS, help_content
from tensorscope.tui.prompt import common_prefix, word_before
from tensorscope.tui.reasons import reason_text
from tensorscope.tui.words import words

SIZES = [((120, 40), "en"), ((80, 24), "zh")]

SCRIPT = """
import torch

torch.manual_seed(0)
w = torch.randn(3, requires_grad=True)
x = torch.ones(3)
for epoch in range(3):
    loss = (w * x).sum()
    loss.backward()
    print(epoch)
print("done")
"""
LOOP_LINE = 8
"""`loss.backward()` in SCRIPT."""


async def at_line(pilot, app: TensorScopeApp, line: int, key: str = "n", limit: int = 40) -> Step:
    """Press `key` until the script pauses at `line`."""
    await wait_until(pilot, lambda: app.current_step is not None and app.state == "paused", "the first step")
    for _ in range(limit):
        step = app.current_step
        assert step is not None
        if step.line == line and app.state == "paused":
            return step
        before = len(app.history)
        await pilot.press(key)
        await wait_until(pilot, lambda before=before: app.state != "running" and (  # type: ignore[misc]
            len(app.history) > before or app.state not in ("paused", "starting")), key)
    raise AssertionError(f"never paused at line {line}")


async def evaluate(pilot, app: TensorScopeApp, text: str, timeout: float = 30.0) -> Evaluation:
    """Type `text` at the prompt (opening it), press Enter, and wait for its answer."""
    if not app.prompt.is_open:
        await pilot.press("colon")
    assert app.prompt.is_open
    before = len(app._evaluations)
    app.prompt.fill(text)
    await pilot.press("enter")
    await wait_until(pilot, lambda: len(app._evaluations) > before, f"the answer to {text!r}", timeout)
    await pilot.pause()
    return app._evaluations[-1]


@pytest.mark.parametrize(("size", "lang"), SIZES)
async def test_a_value_and_a_tensor_are_shown(write_script, size, lang):
    app = TensorScopeApp(str(write_script(SCRIPT)), lang=lang)
    async with app.run_test(size=size) as pilot:
        await at_line(pilot, app, LOOP_LINE)
        ev = await evaluate(pilot, app, "w.shape")
        assert (ev.kind, ev.text) == ("value", "torch.Size([3])")
        assert "› w.shape" in app.evaluation.text and "torch.Size([3])" in app.evaluation.text
        assert app.evaluation.display  # the pane is on screen while the prompt is open
        ev = await evaluate(pilot, app, "w")
        assert ev.kind == "tensor" and ev.tensor is not None and ev.tensor.shape == (3,)
        shown = app.evaluation.text
        assert "w  3  float32  cpu  requires_grad" in shown  # the Tensors-pane-like row
        assert words(lang)["values"] in shown and words(lang)["autograd"] in shown  # the Inspector's view
        assert app.history.current is not None and app.history.current.line == LOOP_LINE  # nothing ran
        await pilot.press("escape")
        assert not app.prompt.is_open and app.focused is app.tensors


async def test_errors_are_shown_and_the_run_goes_on(write_script):
    app = TensorScopeApp(str(write_script(SCRIPT)))
    async with app.run_test(size=(120, 40)) as pilot:
        await at_line(pilot, app, LOOP_LINE)
        ev = await evaluate(pilot, app, "1/0")
        assert ev.kind == "error" and ev.text.startswith("ZeroDivisionError")
        assert "✖ ZeroDivisionError" in app.evaluation.text
        ev = await evaluate(pilot, app, "undefined_name")
        assert ev.kind == "error" and "NameError" in ev.text and "undefined_name" in ev.text
        ev = await evaluate(pilot, app, "w +* ")
        assert ev.kind == "error" and "SyntaxError" in ev.text
        await pilot.press("escape")
        step = await at_line(pilot, app, LOOP_LINE + 1)  # the script still steps
        assert step.line == LOOP_LINE + 1 and app.state == "paused"


async def test_a_runaway_evaluation_is_stopped_and_the_run_still_steps(write_script):
    """(Once, in English: the engine child spends its whole limit, 5 s of CPU, on the loop; the Chinese
    words for it are checked by test_a_value_is_cut_to_the_pane.)"""
    lang = "en"
    app = TensorScopeApp(str(write_script(SCRIPT)), lang=lang)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_line(pilot, app, LOOP_LINE)
        ev = await evaluate(pilot, app, "while True: pass", timeout=60)
        assert ev.kind == "timeout"
        said = words(lang)["eval_timeout"].split("{")[0]
        assert said in app.evaluation.text
        await pilot.press("escape")
        step = await at_line(pilot, app, LOOP_LINE + 1)
        assert step.line == LOOP_LINE + 1


async def test_a_statement_then_its_name(write_script):
    app = TensorScopeApp(str(write_script(SCRIPT)))
    async with app.run_test(size=(120, 40)) as pilot:
        await at_line(pilot, app, LOOP_LINE)
        ev = await evaluate(pilot, app, "z = 5")
        assert ev.kind == "statement"
        assert words("en")["eval_ran"] in app.evaluation.text
        ev = await evaluate(pilot, app, "z")
        assert (ev.kind, ev.text) == ("value", "5")
        await evaluate(pilot, app, "t = torch.zeros(2)")  # the panes show what a statement made

        def made() -> bool:
            shown = app._shown_step()
            return shown is not None and shown.tensor("t") is not None

        await wait_until(pilot, made, "the new tensor in the Tensors pane")
        assert app.tensors.selected_name is not None
        await pilot.press("escape")
        await at_line(pilot, app, LOOP_LINE + 1)
        assert app.history.current is not None and app.history.current.tensor("t") is not None  # the script's


SPINS = """
import time

n = 0
while True:
    n += 1
    time.sleep(0.01)
"""


async def test_typed_while_the_script_runs_it_is_answered_at_the_next_pause(write_script):
    app = TensorScopeApp(str(write_script(SPINS)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.state == "paused", "the first step")
        await pilot.press("c")
        await wait_until(pilot, lambda: app.state == "running", "the script running")
        await pilot.press("colon")
        label = app.prompt.query_one("#prompt-label")
        assert str(label.render()) == words("en")["prompt_waits"]
        app.prompt.fill("n > 0")
        await pilot.press("enter")
        waiting = words("en")["eval_waiting"]
        await wait_until(pilot, lambda: waiting in app.evaluation.text, "the question waiting")
        assert app._evaluations == []
        await pilot.press("ctrl+c")  # interrupt: the next pause answers it
        await wait_until(pilot, lambda: bool(app._evaluations), "the answer at the pause")
        assert (app._evaluations[0].kind, app._evaluations[0].text) == ("value", "True")
        assert words("en")["eval_waiting"] not in app.evaluation.text
        await wait_until(pilot, lambda: str(label.render()) == ":", "the prompt's label once paused")
        await pilot.press("escape", "q")


async def test_history_walks_with_up_and_down_across_a_restart(write_script):
    app = TensorScopeApp(str(write_script(SCRIPT)))
    async with app.run_test(size=(120, 40)) as pilot:
        await at_line(pilot, app, LOOP_LINE)
        await evaluate(pilot, app, "w.shape")
        await evaluate(pilot, app, "x.sum()")
        app.prompt.fill("draft")
        await pilot.press("up")
        assert app.prompt.input.value == "x.sum()"
        await pilot.press("up")
        assert app.prompt.input.value == "w.shape"
        await pilot.press("down", "down")
        assert app.prompt.input.value == "draft"
        await pilot.press("escape")
        await pilot.press("r")
        await at_line(pilot, app, LOOP_LINE)
        assert app._evaluations == []  # a new run: its own evaluations
        await pilot.press("colon", "up")
        assert app.prompt.input.value == "x.sum()"  # the history stays


async def test_tab_completes_a_name_in_scope(write_script):
    app = TensorScopeApp(str(write_script(SCRIPT)))
    async with app.run_test(size=(120, 40)) as pilot:
        await at_line(pilot, app, LOOP_LINE)
        await pilot.press("colon")
        app.prompt.fill("epo")
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.prompt.input.value == "epoch", "the completion of 'epo'")
        app.prompt.fill("w.requires_gr")
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.prompt.input.value == "w.requires_grad", "an attribute completed")
        assert app.history.current is not None and app.history.current.line == LOOP_LINE


@pytest.mark.parametrize(("size", "lang"), SIZES)
async def test_a_watch_is_shown_at_every_pause(write_script, size, lang):
    app = TensorScopeApp(str(write_script(SCRIPT)), lang=lang)
    async with app.run_test(size=size) as pilot:
        await at_line(pilot, app, LOOP_LINE)
        await pilot.press("W")
        assert app.prompt.is_open and app.prompt.input.value == "watch "
        app.prompt.fill("watch epoch * 10")
        await pilot.press("enter")
        app.prompt.fill("watch nope")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "1 epoch * 10 = 0" in app.watch_list.text, "the watch at this pause")
        assert "NameError" in app.watch_list.text  # a failing watch shows its error
        assert app.watch_list.display
        await pilot.press("escape")
        await at_line(pilot, app, LOOP_LINE + 1)
        await at_line(pilot, app, LOOP_LINE)  # the next pass of the loop
        await wait_until(pilot, lambda: "1 epoch * 10 = 10" in app.watch_list.text, "the watch, recomputed")
        step = app.history.current
        assert step is not None and [ev.source for ev in step.watches] == ["epoch * 10", "nope"]
        await pilot.press("colon")
        app.prompt.fill("unwatch 2")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "nope" not in app.watch_list.text, "the watch removed")
        assert app.runner.watches == ["epoch * 10"]
        notices: list[str] = []
        app.notify = lambda message, *args, **kwargs: notices.append(message)  # type: ignore[method-assign]
        app.prompt.fill("watches")
        await pilot.press("enter")
        assert notices == ["1 epoch * 10"]
        await pilot.press("escape", "r")  # a restart keeps the watches
        await at_line(pilot, app, LOOP_LINE)
        await wait_until(pilot, lambda: "1 epoch * 10 = 0" in app.watch_list.text, "the watch, restarted")


async def test_without_allow_eval_nothing_is_sent(write_script, monkeypatch):
    app = TensorScopeApp(str(write_script(SCRIPT)), allow_eval=False)
    notices: list[str] = []
    sent: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.notify = lambda message, *args, **kwargs: notices.append(message)  # type: ignore[method-assign]
        monkeypatch.setattr(app.runner, "evaluate", lambda *args: sent.append("evaluate"))
        monkeypatch.setattr(app.runner, "set_watches", lambda *args: sent.append("watch"))
        await at_line(pilot, app, LOOP_LINE)
        await pilot.press("colon")
        await pilot.press("W")
        assert not app.prompt.is_open and sent == []
        assert notices.count(words("en")["eval_off"]) == 2
        assert "--allow-eval" in notices[0]
        await pilot.press("n")  # the keys still step
        await at_line(pilot, app, LOOP_LINE + 1)


async def test_ctrl_s_saves_a_session_replay_shows_its_evaluations(write_script, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = TensorScopeApp(str(write_script(SCRIPT)))
    async with app.run_test(size=(120, 40)) as pilot:
        step = await at_line(pilot, app, LOOP_LINE)
        await evaluate(pilot, app, "w.shape")
        await pilot.press("escape", "ctrl+s")
        saved = tmp_path / "script.tensorscope.json"
        await wait_until(pilot, saved.exists, "the saved trace")
    trace = Trace.from_json(saved.read_text(encoding="utf-8"))
    assert [(ev.source, ev.step) for ev in trace.evaluations] == [("w.shape", step.index)]
    assert trace.steps[-1].line == LOOP_LINE
    assert trace.source[LOOP_LINE - 1].strip() == "loss.backward()"
    replay = TensorScopeApp.from_trace(trace)
    async with replay.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: replay.current_step is not None, "the replay's first step")
        assert "w.shape" not in replay.evaluation.text  # not evaluated yet at the first step
        await at_line(pilot, replay, LOOP_LINE)  # the step it was evaluated at
        await wait_until(pilot, lambda: "torch.Size([3])" in replay.evaluation.text, "what was evaluated")
        await pilot.press("colon")  # a replay runs nothing: the pane opens, no prompt
        assert not replay.prompt.is_open and replay.evaluation.display


async def test_the_palettes_save_asks_where(write_script, tmp_path):
    app = TensorScopeApp(str(write_script(SCRIPT)))
    async with app.run_test(size=(80, 24)) as pilot:
        await at_line(pilot, app, LOOP_LINE)
        app.action_save_trace_as()
        await pilot.pause()
        assert app.prompt.is_open and app.prompt.input.value == "save script.tensorscope.json"
        target = tmp_path / "lesson.json"
        app.prompt.fill(f"save {target}")
        await pilot.press("enter")
        await wait_until(pilot, target.exists, "the trace saved where asked")
    assert Trace.from_json(target.read_text(encoding="utf-8")).steps[-1].line == LOOP_LINE


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_help_lists_the_new_keys(lang):
    keys = [key for key, _ in KEYS[lang]]
    for key in (":", "W", "u d", "ctrl+s"):
        assert key in keys
    assert "ctrl+s" in help_content(lang).plain


def test_the_prompt_completes_the_word_at_the_cursor():
    assert word_before("print(model.fc.we") == "model.fc.we"
    assert word_before("x + ") == ""
    assert common_prefix(("epoch", "epochs", "eps")) == "ep"
    assert common_prefix(()) == ""


def test_a_value_is_cut_to_the_pane():
    assert cut("abcdefgh", 5) == "abcd…"
    assert cut("\n".join("x" * 3 for _ in range(20)), 10, lines=2) == "xxx\nxxx\n…"
    text = evaluation_content(Evaluation("1/0", "error", text="ZeroDivisionError: division by zero", step=3),
                              "en").plain
    assert "› 1/0" in text and "step 3" in text and "✖ ZeroDivisionError: division by zero" in text
    timeout = Evaluation("while True: pass", "timeout", text="stopped after 5 s")
    assert "stopped after 5 s" in evaluation_content(timeout, "en").plain
    assert "5 秒" in evaluation_content(timeout, "zh").plain


@pytest.mark.parametrize(("reason", "said"), [
    (PauseReason("breakpoint", "epoch == 3"), "paused: condition epoch == 3 at line 30"),
    (PauseReason("breakpoint"), "paused: breakpoint at line 30"),
    (PauseReason("changed", "w", "value"), "paused: w changed (value)"),
    (PauseReason("nan", "x", "NaN"), "paused: x became NaN"),
    (PauseReason("nan"), "paused: a tensor in scope became NaN or Inf"),
    (PauseReason("post-mortem", "RuntimeError", "boom"), "post-mortem: RuntimeError"),
])
def test_a_pause_reason_in_words(reason, said):
    step = Step(index=1, file="s.py", line=30, function="<module>", depth=0, reason=reason)
    assert reason_text(reason, step, "en") == said
    assert reason_text(reason, step, "zh")  # every reason has its Chinese words
    assert reason_text(None, step, "en") == ""


def test_reason_words_are_in_every_language():
    en, zh = words("en"), Path(__file__).parent.parent / "tensorscope" / "i18n" / "zh.toml"
    text = zh.read_text(encoding="utf-8")
    for key in en:
        if key.startswith(("reason_", "eval_", "frame_", "prompt_")):
            assert f"\n{key} = " in text, key
