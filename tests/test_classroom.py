"""Classroom mode: autoplay, the Chinese UI, the scenario's docstring in the app, `list` as a lesson plan."""

from __future__ import annotations

import re
import subprocess
import sys

from pilot_support import wait_until
from textual.widgets._footer import FooterKey

from tensorscope.engine import list_scenarios
from tensorscope.lessons import PLAN, lesson_plan, script_doc
from tensorscope.screenshot import drive
from tensorscope.tui.app import INTRO_SECONDS, TensorScopeApp
from tensorscope.tui.help import HelpScreen
from tensorscope.tui.narration import Narration
from tensorscope.tui.words import WORDS

SIZE = (140, 44)




def status_text(app: TensorScopeApp) -> str:
    return str(app.query_one("#status").render())


def footer(app: TensorScopeApp) -> dict[str, str]:
    """Key shown in the Footer → its description."""
    return {k.key_display or k.key: k.description for k in app.query(FooterKey)}


class TestAutoplay:
    """`--autoplay SECONDS`: the app steps by itself and stops at each new warning or error."""

    async def test_steps_by_itself_and_pauses_at_the_flag(self):
        """forgot_zero_grad: autoplay runs to epoch 2's backward() and stops; space resumes, then pauses."""
        app = TensorScopeApp("forgot_zero_grad", autoplay=0.05)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: bool(footer(app)), "the footer")
            assert footer(app).get("space") == "autoplay"
            await wait_until(pilot, lambda: not app.autoplaying, "autoplay to pause at a flag")
            step = app.current_step
            assert step is not None and len(app.history) > 10  # no key was pressed
            assert [f.code for f in step.flags] == ["grad-accumulation"]
            assert "⏸ autoplay paused" in status_text(app)
            await pilot.pause(0.3)
            assert app.current_step is step  # it waits for the teacher
            await pilot.press("space")
            assert app.autoplaying and "▶▶ autoplay 0.05 s" in status_text(app)
            await wait_until(pilot, lambda: len(app.history) >= 3 + step.index + 1, "autoplay to go on")
            await pilot.press("space")
            await wait_until(pilot, lambda: app.state == "paused", "the line in flight")
            shown = len(app.history)
            await pilot.pause(0.3)
            assert len(app.history) == shown and "autoplay paused" in status_text(app)

    async def test_the_summary_stays_up_before_the_first_line(self):
        """However fast the pace, the summary is on screen INTRO_SECONDS before autoplay runs line 1."""
        now = [0.0]
        app = TensorScopeApp("linreg", autoplay=0.05)
        app.clock = lambda: now[0]  # (a clock the test moves: nothing here depends on timing)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.state == "paused" and len(app.history) == 1, "a pause")
            app._autoplay_tick()  # (the pace's own ticks run too: the frozen clock holds them all)
            now[0] = INTRO_SECONDS - 0.1
            app._autoplay_tick()
            assert app.state == "paused"  # (a line sent would have made it "running" at once)
            await pilot.pause()
            assert len(app.history) == 1 and app.state == "paused"
            assert "Linear regression" in app.query_one(Narration).sentences[0]
            now[0] = INTRO_SECONDS
            await wait_until(pilot, lambda: len(app.history) > 1, "autoplay to run the first line")

    async def test_a_tick_once_the_app_has_closed_runs_nothing(self):
        """A tick of the pace that lands while the app closes (its panes gone) sends no line."""
        now = [0.0]
        app = TensorScopeApp("linreg", autoplay=60.0)  # (the test ticks; the pace's own tick is a minute off)
        app.clock = lambda: now[0]
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.state == "paused" and len(app.history) == 1, "a pause")
            app._autoplay_tick()  # (the summary's INTRO_SECONDS start)
        now[0] = INTRO_SECONDS
        app._autoplay_tick()
        assert app.state == "paused" and len(app.history) == 1

    async def test_runs_to_the_end_of_a_clean_script(self):
        """linreg (nothing flagged) plays to the end; the status bar then shows how it ended."""
        app = TensorScopeApp("autograd_basics", autoplay=0.05)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.state == "finished", "the end of the script", timeout=60)
            assert app.autoplaying and not re.search(r"autoplay (\d|paused)", status_text(app))
            assert "✔ finished" in status_text(app)

    async def test_without_autoplay_space_is_next(self, write_script):
        """No --autoplay: space runs the next line as n does, and no autoplay key is shown."""
        script = write_script("a = 1\nb = 2\nc = 3\n")
        app = TensorScopeApp(str(script))
        async with app.run_test(size=SIZE) as pilot:
            await drive(pilot, app, steps=0)
            await drive(pilot, app, press="space")
            assert app.current_step is not None and app.current_step.line == 2
            assert "space" not in footer(app) and not re.search(r"autoplay (\d|paused)", status_text(app))

    async def test_help_screen_documents_space(self):
        """The help screen says what space does under --autoplay."""
        app = TensorScopeApp("linreg", autoplay=60)
        async with app.run_test(size=SIZE) as pilot:
            await drive(pilot, app, press="question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = str(app.screen.query_one("Static").render())
            assert re.search(r"space .*pause / resume autoplay", text)


class TestSnapshots:
    """SVG snapshots (tests/__snapshots__/test_classroom/; accept changes with --snapshot-update)."""

    def test_autoplay_stopped_at_a_flag_in_chinese(self, snap_compare):
        """Status bar `⏸ 自动播放已暂停`, the flag explained in Chinese, `space 自动播放` in the Footer."""
        app = TensorScopeApp("forgot_zero_grad", lang="zh", autoplay=3600)  # stepped by n: no timer race

        async def run_before(pilot) -> None:
            await drive(pilot, pilot.app, until_flag="grad-accumulation")

        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)

    def test_lesson_intro_in_english(self, snap_compare):
        """Before the first line: linreg's summary, then the keys to press."""

        async def run_before(pilot) -> None:
            await drive(pilot, pilot.app, steps=0)

        assert snap_compare(TensorScopeApp("linreg"), terminal_size=(120, 40), run_before=run_before)


class TestChinese:
    """`--lang zh`: every label, status, key, help text and palette entry in Chinese."""

    ENGLISH_UI = ("next", "step in", "finish", "continue", "back", "forward", "breakpoint", "restart",
                  "help", "quit", "palette", "autoplay", "paused", "Source", "Tensors", "Inspector",
                  "Flags", "Output", "what just happened", "grad mode", "step ", "line ")

    async def test_footer_status_titles_and_narration(self):
        app = TensorScopeApp("forgot_zero_grad", lang="zh", autoplay=60)
        async with app.run_test(size=SIZE) as pilot:
            await drive(pilot, app, until_flag="grad-accumulation")
            keys = footer(app)
            assert keys["n"] == "下一行" and keys["space"] == "自动播放" and keys["q"] == "退出"
            assert keys["^p"] == "命令面板"
            for description in keys.values():
                assert not re.search(r"[A-Za-z]", description), description
            status = status_text(app)
            # paused inside no_grad, where the update uses the stale sum: grad mode is off
            assert "已暂停" in status and "步" in status and "梯度模式 关" in status and "自动播放" in status
            titles = [app.query_one(f"#{pane}").border_title for pane in
                      ("source", "tensors", "inspector", "flags", "output")]
            assert [str(t).split(" · ")[0] for t in titles] == ["源代码", "张量", "详情", "问题", "输出"]
            narration = str(app.query_one("#narration").render())
            assert "刚才发生了什么" in narration
            shown = status + narration + " ".join(map(str, titles))
            for word in self.ENGLISH_UI:
                assert not re.search(rf"\b{word.strip()}\b", shown), word

    async def test_help_screen_and_command_palette(self):
        app = TensorScopeApp("linreg", lang="zh")
        async with app.run_test(size=SIZE) as pilot:
            await drive(pilot, app, press="question_mark")
            text = str(app.screen.query_one("Static").render())
            assert "下一行" in text and "空格" in text and "关于这个脚本" in text
            prose = re.sub(r"`[^`]*`|\([^)]*\)|--\w+|[a-z_]+\.py|\b[a-z_.]+\(\)|\.grad|\bzero_grad\b", "",
                           text.split("关于这个脚本")[0])
            assert not re.search(r"\b(the|run|and|line|stop|until|press)\b", prose), prose
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert {"下一行", "步入", "继续", "主题", "退出"} <= set(titles)
            assert not [t for t in titles if re.fullmatch(r"[A-Za-z ]+", t)], titles

    async def test_switching_language_redraws_the_keys(self):
        """The palette's language switch turns the Footer's words from English to Chinese and back."""
        app = TensorScopeApp("linreg")
        async with app.run_test(size=SIZE) as pilot:
            await drive(pilot, app, steps=1)
            assert footer(app)["n"] == "next"
            app.action_toggle_language()
            await pilot.pause()
            assert footer(app)["n"] == "下一行" and "已暂停" in status_text(app)
            app.action_toggle_language()
            await pilot.pause()
            assert footer(app)["n"] == "next"

    def test_every_word_has_both_languages(self):
        assert set(WORDS["en"]) == set(WORDS["zh"])
        assert all(WORDS["zh"][k] for k in WORDS["zh"] if WORDS["en"][k])


class TestScenarioDocstring:
    """Students see what to watch: the docstring's first line before the first step, all of it in help."""

    async def test_first_line_before_the_first_step_and_all_of_it_in_help(self):
        doc = script_doc((list_scenarios()[0].parent / "linreg.py").read_text(encoding="utf-8"))
        app = TensorScopeApp("linreg")
        async with app.run_test(size=SIZE) as pilot:
            await drive(pilot, app, steps=0)
            narration = app.query_one("#narration")
            assert narration.sentences[0] == doc.splitlines()[0]
            assert "press n" in str(narration.render())
            await drive(pilot, app, steps=1)
            assert doc.splitlines()[0] not in str(narration.render())
            await drive(pilot, app, press="question_mark")
            text = str(app.screen.query_one("Static").render())
            assert "About this script" in text
            assert "line 34 (`w.grad.zero_()`): the grads go back to zero" in text
            assert "(its version goes up) and still has no grad_fn" in text  # one sentence, wrapped to fit

    async def test_a_script_without_docstring_starts_with_the_keys(self, write_script):
        app = TensorScopeApp(str(write_script("x = 1\n")))
        async with app.run_test(size=SIZE) as pilot:
            await drive(pilot, app, steps=0)
            assert app.query_one("#narration").sentences == [WORDS["en"]["start"]]


class TestLessonPlan:
    """`tensorscope list`: basics → autograd → training → pitfalls, each with its summary and command."""

    def test_list_groups_every_scenario_in_teaching_order(self, tmp_path):
        proc = subprocess.run([sys.executable, "-m", "tensorscope", "list"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        headings = [line for line in lines if not line.startswith(" ")]
        assert [h.split()[1] for h in headings] == ["Tensor", "Autograd", "Training", "Pitfalls"]
        names = [line.split()[0] for line in lines if line.startswith("  ") and not line.split()[0] == "$"]
        assert sorted(names) == sorted(p.stem for p in list_scenarios())
        assert names.index("tensor_basics") < names.index("autograd_basics") < names.index("linreg")
        assert names.index("linreg") < names.index("forgot_zero_grad")
        at = lines.index(next(line for line in lines if line.split()[0] == "device_mismatch"))
        assert lines[at].split(maxsplit=1)[1].startswith("Pitfall: the model is moved to the GPU")
        assert lines[at + 1].split() == ["$", "tensorscope", "run", "device_mismatch", "--simulate-cuda"]

    def test_a_new_scenario_finds_its_group(self, tmp_path):
        """A scenario missing from the plan: under pitfalls when its docstring says so, else under `more`."""
        (tmp_path / "new_pitfall.py").write_text('"""Pitfall: something new."""\n', encoding="utf-8")
        (tmp_path / "extra.py").write_text('"""An extra exercise."""\n', encoding="utf-8")
        (tmp_path / "linreg.py").write_text('"""Linear regression."""\n', encoding="utf-8")
        plan = dict(lesson_plan(sorted(tmp_path.glob("*.py"))))
        assert [lesson.name for lesson in plan["pitfalls"]] == ["new_pitfall"]
        assert [(lesson.name, lesson.summary, lesson.command) for lesson in plan["more"]] == [
            ("extra", "An extra exercise.", "tensorscope run extra")]
        assert list(plan) == ["training", "pitfalls", "more"]
        assert {n for _, names in PLAN for n in names} == {p.stem for p in list_scenarios()}
