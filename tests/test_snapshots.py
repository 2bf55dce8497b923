"""SVG snapshots of the step-debugger, driven by the same code as `tensorscope screenshot`.

Each test brings the app to a state with `tensorscope.screenshot.drive` and compares the screen with its SVG
under tests/__snapshots__/test_snapshots/. A mismatch fails with a diff of the text on screen (and
snapshot_report.html shows both pictures side by side). After an intended change of the screen, accept it:

    .venv/bin/pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import difflib
import importlib.util
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from tensorscope.screenshot import drive, make_app, screen_text
from tensorscope.tui.app import TensorScopeApp

SIZE = (120, 40)
REPO = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__" / Path(__file__).stem


def readme_shots() -> Any:
    """tools/readme_screenshots.py, the list of the README's shots and the commands that make them."""
    path = REPO / "tools" / "readme_screenshots.py"
    spec = importlib.util.spec_from_file_location("readme_screenshots", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


UPDATE = ".venv/bin/pytest tests/test_snapshots.py --snapshot-update"

# scenarios/linreg.py: the lines the lesson stops at (▶, the line about to run)
LINREG_LOSS = 25  # ▶ loss = ...: y_pred = x @ w + b just ran
LINREG_AFTER_BACKWARD = 30  # ▶ with torch.no_grad(): loss.backward() just ran
LINREG_AFTER_UPDATE = 34  # ▶ w.grad.zero_(): w and b were just updated
LINREG_AFTER_ZEROING = 36  # ▶ print(...): both grads were just zeroed


def screen_diff(node: pytest.Item, actual: str | None) -> str:
    """What changed on screen, as a unified diff of the snapshot's text and the screen's text (`actual`, the
    SVG the test's app exported at the moment it was compared)."""
    expected_file = SNAPSHOTS / f"{node.nodeid.split('::', 1)[1].replace('::', '.')}.svg"
    if not expected_file.exists():
        return f"no snapshot {expected_file.name} yet: look at the screen, then create it with {UPDATE}"
    if actual is None:
        return f"the screen differs from {expected_file.name}"
    expected = expected_file.read_text(encoding="utf-8")
    diff = "\n".join(difflib.unified_diff(
        screen_text(expected).splitlines(), screen_text(actual).splitlines(), lineterm="",
        fromfile=f"{expected_file.parent.name}/{expected_file.name}", tofile="now"))
    if not diff:
        diff = "the text on screen is the same: colours or styles changed (see snapshot_report.html)"
    return (f"the screen changed:\n{diff}\n"
            f"If the change is intended, accept it with {UPDATE}")


@pytest.fixture
def snap(snap_compare: Callable[..., bool], request: pytest.FixtureRequest) -> Callable[..., None]:
    """Drive the app like `tensorscope screenshot` (steps/until_line/until_flag/press) and compare."""

    def compare(app: TensorScopeApp, size: tuple[int, int] = SIZE, **how: Any) -> None:
        shown: list[str] = []

        async def run_before(pilot: Any) -> None:
            await drive(pilot, pilot.app, **how)
            shown.append(pilot.app.export_screenshot())  # (what the snapshot is taken of, for the diff)

        if not snap_compare(app, terminal_size=size, run_before=run_before):
            pytest.fail(screen_diff(request.node, shown[-1] if shown else None), pytrace=False)

    return compare


class TestLinregLesson:
    """scenarios/linreg.py, one epoch of manual SGD, as the lesson walks through it."""

    def test_start(self, snap):
        """Paused before line 1: empty Tensors, the narration says which keys to press."""
        snap(make_app("linreg"), steps=0)

    def test_after_backward(self, snap):
        """✓ on loss.backward(): w.grad and b.grad filled in the table and narrated, w in the Inspector."""
        snap(make_app("linreg"), until_line=LINREG_AFTER_BACKWARD)

    def test_after_update(self, snap):
        """w and b updated in place under no_grad (version 1), still leaves; the grads still there."""
        snap(make_app("linreg"), until_line=LINREG_AFTER_UPDATE)

    def test_after_zeroing(self, snap):
        """Both grads back to zero, ready for the next backward()."""
        snap(make_app("linreg"), until_line=LINREG_AFTER_ZEROING)

    def test_step_back(self, snap):
        """← from after backward(): the status bar says `history 12/13`, the panes show the step before."""
        snap(make_app("linreg"), until_line=LINREG_AFTER_BACKWARD, press="left")

    def test_help_screen(self, snap):
        """`?` opens every key and what the marks mean, over the panes."""
        snap(make_app("linreg"), press="question_mark")

    def test_small_terminal(self, snap):
        """80x24: the narrow, short layout still shows source, tensors, inspector, flags and the keys."""
        snap(make_app("linreg"), size=(80, 24), until_line=LINREG_AFTER_BACKWARD)


class TestPitfalls:
    """A flag on screen, its explanation open in the Inspector."""

    def test_grad_accumulation_en(self, snap):
        """forgot_zero_grad: epoch 2's backward() flagged grad-accumulation, explained in English."""
        snap(make_app("forgot_zero_grad"), until_flag="grad-accumulation")

    def test_grad_accumulation_zh(self, snap):
        """The same flag explained in Chinese (--lang zh), labels and keys included."""
        snap(make_app("forgot_zero_grad", lang="zh"), until_flag="grad-accumulation")

    @pytest.mark.skipif(torch.cuda.is_available(),
                        reason="--simulate-cuda is for machines without a GPU")
    def test_device_mismatch_simulated_cuda(self, snap):
        """device_mismatch --simulate-cuda: model on cuda:0 (sim), x on cpu, the error explained."""
        snap(make_app("device_mismatch", simulate_cuda=True), until_flag="device-mismatch")

    def test_inplace_warning_before_backward(self, snap):
        """inplace_breaks_graph: `h *= 2` flagged as a warning before backward() has failed."""
        snap(make_app("inplace_breaks_graph"), until_flag="inplace-saved-tensor")

    def test_exception_on_screen(self, snap):
        """backward_twice: the second backward() raises; ✖ at its line, the exception and its flag shown."""
        snap(make_app("backward_twice"), until_flag="backward-twice")


class TestInspector:
    def test_autograd_graph(self, snap):
        """y_pred = x @ w + b just ran: the Inspector draws its graph AddBackward0 → MmBackward0 → leaf w,
        and leaf b."""
        snap(make_app("linreg"), until_line=LINREG_LOSS)


class TestScreenshotCommand:
    """`tensorscope screenshot` and the pictures under screenshots/ made with it."""

    CHECKED = ("linreg_graph", "forgot_zero_grad_zh")
    """Shots regenerated here (a few seconds each; `python tools/readme_screenshots.py` makes all)."""

    SHOWS = {
        "linreg_backward": "backward() wrote w.grad",
        "linreg_graph": "● w",
        "forgot_zero_grad": "⚠ warning · grad-accumulation",
        "forgot_zero_grad_zh": "修复",
        "device_mismatch": "cuda:0 (sim)",
        "inplace_warning": "⚠ warning · inplace-saved-tensor",
        "shape_mismatch": "✖ error · shape-mismatch",
        "step_back": "history 12/13",
        "help": "tensorscope keys",
        "evaluation": "loss.item() =",
        "data-breakpoint": "paused: w.grad changed (written)",
    }
    """A phrase each screenshot must show: the thing the README says it shows."""

    @pytest.mark.parametrize("name", CHECKED)
    def test_screenshots_are_what_the_command_makes_now(self, name, tmp_path, monkeypatch):
        """screenshots/NAME.svg is byte for byte what its documented command writes today."""
        from tensorscope.cli import main
        shot_args = readme_shots().shot_args

        monkeypatch.chdir(REPO)
        result = CliRunner().invoke(main, shot_args(name, tmp_path), catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        made = (tmp_path / f"{name}.svg").read_text(encoding="utf-8")
        kept = (REPO / "screenshots" / f"{name}.svg").read_text(encoding="utf-8")
        if made != kept:
            diff = "\n".join(difflib.unified_diff(
                screen_text(kept).splitlines(), screen_text(made).splitlines(),
                f"screenshots/{name}.svg", "now", lineterm=""))
            pytest.fail(f"screenshots/{name}.svg is stale:\n{diff or '(colours or styles differ)'}\n"
                        "Regenerate them with: .venv/bin/python tools/readme_screenshots.py",
                        pytrace=False)

    def test_every_screenshot_is_documented_and_shows_its_point(self):
        """Each shot has its file, the README shows it, and the picture shows what the README says."""
        SHOTS = readme_shots().SHOTS  # noqa: N806

        readme = (REPO / "README.md").read_text(encoding="utf-8")
        assert set(SHOTS) <= {p.stem for p in (REPO / "screenshots").glob("*.svg")}
        assert set(self.SHOWS) == set(SHOTS)
        for name, phrase in self.SHOWS.items():
            assert f"(screenshots/{name}.svg)" in readme, name
            svg = (REPO / "screenshots" / f"{name}.svg").read_text(encoding="utf-8")
            assert phrase in screen_text(svg), name

    def test_same_command_twice_same_bytes_and_no_host_paths(self, write_script, tmp_path, monkeypatch):
        """Two runs give identical SVGs; a script outside the cwd shows as its name, no folder, no host."""
        from tensorscope.cli import main

        script = write_script("import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 3).sum()\n")
        elsewhere = tmp_path / "cwd"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        svgs = []
        for n in (1, 2):
            result = CliRunner().invoke(main, ["screenshot", str(script), "--steps", "2", "--size", "90x30",
                                               "-o", f"shot{n}.svg"], catch_exceptions=False)
            assert result.exit_code == 0, result.stderr
            svgs.append((elsewhere / f"shot{n}.svg").read_text(encoding="utf-8"))
        assert svgs[0] == svgs[1]
        text = screen_text(svgs[0])
        assert "script.py · ⏸ paused · step 2 · line 3" in text and "x * 3" in text
        for private in (str(tmp_path), socket.gethostname(), str(Path.home())):
            assert private not in svgs[0]

    @pytest.mark.parametrize(("args", "message"), [
        (["--until-line", "40"], "the script ended before line 40 (line 2, state finished)"),
        (["--until-flag", "nan-inf"], "the script ended before a nan-inf flag"),
        (["--steps", "9"], "the script ended after"),
    ])
    def test_a_state_never_reached_is_a_clear_error(self, write_script, tmp_path, args, message):
        """No SVG and exit 2 with one line saying what was not reached and where the script was."""
        from tensorscope.cli import main

        script = write_script("import torch\nx = torch.ones(2)\n")
        out = tmp_path / "shot.svg"
        result = CliRunner().invoke(main, ["screenshot", str(script), "-o", str(out), *args])
        assert result.exit_code == 2
        assert message in result.stderr and "no screenshot" in result.stderr
        assert not out.exists()

    def test_usage_errors(self, write_script, tmp_path):
        """Two ways to stop, or a size that is not COLSxROWS: exit 2 before anything runs."""
        from tensorscope.cli import main

        script = str(write_script("x = 1\n"))
        out = str(tmp_path / "shot.svg")
        both = CliRunner().invoke(main, ["screenshot", script, "-o", out, "--steps", "1", "--until-line=2"])
        assert both.exit_code == 2 and "only one of --steps, --until-line and --until-flag" in both.stderr
        size = CliRunner().invoke(main, ["screenshot", script, "-o", out, "--size", "wide"])
        assert size.exit_code == 2 and "120x40" in size.stderr
        code = CliRunner().invoke(main, ["screenshot", script, "-o", out, "--until-flag", "grad-acumulation"])
        assert code.exit_code == 2 and "no flag has the code 'grad-acumulation'" in code.stderr
        assert not Path(out).exists()

    def test_keys_and_sizes_are_read_as_written(self):
        """--press takes Textual key names separated by commas or spaces; --size is COLSxROWS."""
        from tensorscope.screenshot import parse_keys, parse_size

        assert parse_keys("left,left question_mark") == ("left", "left", "question_mark")
        assert parse_keys(["tab, tab", "end"]) == ("tab", "tab", "end")
        assert parse_size("120x40") == (120, 40) and parse_size("80X24") == (80, 24)
        for bad in ("120", "x40", "10x5"):
            with pytest.raises(ValueError):
                parse_size(bad)

    def test_breakpoint_and_keys(self, write_script, tmp_path):
        """--break 4 --press c: the shot shows the script stopped at the breakpoint, as `c` does in run."""
        from tensorscope.cli import main

        script = write_script("import torch\nx = torch.ones(2)\ny = x * 2\nz = y + 1\nprint(z)\n")
        out = tmp_path / "shot.svg"
        result = CliRunner().invoke(main, ["screenshot", str(script), "-o", str(out), "--break", "4",
                                           "--press", "c", "--size", "100x30"], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        text = screen_text(out.read_text(encoding="utf-8"))
        assert "· line 4 in <module>" in text
        assert "●  4 ▶ z = y + 1" in text  # the breakpoint, and the line about to run
