"""The command line's debugger options: `--break LINE[:COND]`, `--stop-on SPEC` on run/replay/serve, `trace
--watch EXPR`, and serve's `--allow-eval` (off by default; a plain warning on a non-loopback host)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tensorscope import cli
from tensorscope.checks import codes
from tensorscope.cli_options import flag_codes, is_loopback, parse_break
from tensorscope.model import Trace

REPO = Path(__file__).resolve().parent.parent
LINREG = str(REPO / "scenarios" / "linreg.py")


@pytest.fixture
def opened(monkeypatch) -> list[Any]:
    """The apps `run`/`replay` would open (built, not run; no engine process started)."""
    from tensorscope.tui import app as app_module
    from tensorscope.tui import runner as runner_module

    apps: list[Any] = []
    monkeypatch.setattr("tensorscope.engine.process.warm_up", lambda: None)
    monkeypatch.setattr(runner_module, "warm_up", lambda: None)
    monkeypatch.setattr(app_module.TensorScopeApp, "run", lambda self, *a, **k: apps.append(self))
    return apps


@pytest.fixture
def served(monkeypatch) -> list[tuple[list[str], str, int]]:
    """The (command, host, port) `serve` would serve (no server started)."""
    import tensorscope.serve as serve_module

    got: list[tuple[list[str], str, int]] = []

    class FakeServer:
        def __init__(self, command: list[str], host: str, port: int) -> None:
            got.append((command, host, port))

        def serve(self) -> None:
            return None

    monkeypatch.setattr(serve_module, "make_server",
                        lambda command, host, port, title: FakeServer(command, host, port))
    return got


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args))


class TestBreak:
    def test_line_and_condition_reach_the_app(self, opened):
        result = invoke("run", LINREG, "--break", "28", "--break", "24:epoch == 3")
        assert result.exit_code == 0, result.output
        app = opened[0]
        assert {(app.target.display, 28), (app.target.display, 24)} <= app.runner.breakpoints
        assert app.conditions == {(app.target.display, 24): "epoch == 3"}

    @pytest.mark.parametrize(("value", "says"), [
        ("24:epoch ==", "not a Python expression"),
        ("24:", "empty"),
        ("abc", "expected LINE or LINE:CONDITION"),
        ("0", "start at 1"),
    ])
    def test_bad_break_is_a_clear_usage_error(self, opened, value, says):
        result = invoke("run", LINREG, "--break", value)
        assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
        assert opened == []

    def test_parse_break_keeps_colons_inside_the_condition(self):
        b = parse_break("30: d['k'] == 1")
        assert (b.line, b.condition, str(b)) == (30, "d['k'] == 1", "30:d['k'] == 1")


class TestStopOn:
    def test_specs_reach_the_app_each_once(self, opened):
        result = invoke("run", LINREG, "--stop-on", "grad:w", "--stop-on", "nan", "--stop-on", "grad:w",
                        "--stop-on", "flag:device-mismatch")
        assert result.exit_code == 0, result.output
        assert opened[0].stop_specs == ("grad:w", "nan", "flag:device-mismatch")

    @pytest.mark.parametrize(("value", "says"), [
        ("gradw", "expected change:NAME"), ("flag:no-such-code", "unknown flag code"),
        ("grad:w[0]", "NAME"), ("nan:w", "nan takes no name"),
    ])
    def test_bad_spec_is_a_clear_usage_error(self, opened, value, says):
        result = invoke("run", LINREG, "--stop-on", value)
        assert result.exit_code == 2 and says in result.output and opened == []

    def test_the_known_flag_codes_are_the_checks_codes(self):
        assert set(flag_codes()) == set(codes())


class TestReplay:
    def test_break_with_condition_and_stop_on_reach_the_replay(self, opened, tmp_path):
        recorded = tmp_path / "lesson.json"
        invoke("trace", LINREG, "-o", str(recorded), "--max-steps", "5")
        assert recorded.exists()
        result = invoke("replay", str(recorded), "--break", "28:loss < 1", "--stop-on", "grad:b")
        assert result.exit_code == 0, result.output
        runner = opened[0].runner
        assert runner.conditions == {(Trace.from_json(recorded.read_text()).script, 28): "loss < 1"}
        assert [str(s) for s in runner.stop_on] == ["grad:b"]

    def test_bad_condition_in_replay(self, opened, tmp_path):
        result = invoke("replay", str(tmp_path / "any.json"), "--break", "28:loss <")
        assert result.exit_code == 2 and "not a Python expression" in result.output


class TestWatch:
    def test_trace_prints_each_watch_under_every_step(self):
        result = invoke("trace", LINREG, "--watch", "w.grad", "--watch", "epoch", "--max-steps", "14")
        lines = result.output.splitlines()
        assert "         ◇ epoch: ✖ NameError: name 'epoch' is not defined" in lines  # before the loop
        assert "         ◇ epoch = 0" in lines
        assert "         ◇ w.grad = None" in lines
        assert any(line.startswith("         ◇ w.grad = 1×1 float32 cpu [[") for line in lines)
        steps = sum(line.startswith("[") for line in lines)
        assert sum("◇ epoch" in line for line in lines) == steps  # under every step

    def test_trace_json_has_the_watches(self):
        result = invoke("trace", LINREG, "--watch", "lr * 2", "--max-steps", "9", "--json")
        steps = json.loads(result.output)["steps"]
        assert steps[-1]["watches"][0]["source"] == "lr * 2"
        assert steps[-1]["watches"][0]["kind"] == "value" and steps[-1]["watches"][0]["text"] == "0.1"

    def test_a_watch_that_is_not_an_expression_is_refused(self):
        result = invoke("trace", LINREG, "--watch", "x = 1")
        assert result.exit_code == 2 and "not a Python expression" in result.output


class TestServeSecurity:
    def test_evaluation_is_off_unless_allowed(self, served, opened):
        result = invoke("serve", LINREG, "--break", "28", "--stop-on", "nan")
        assert result.exit_code == 0, result.output
        command = served[0][0]
        assert "--no-eval" in command and command[command.index("--stop-on") + 1] == "nan"
        assert result.stderr == ""  # on loopback, nothing to warn about
        # the command each browser session runs opens an app with evaluation (and conditions) off
        run_args = command[command.index("run") + 1:]
        assert invoke("run", *run_args).exit_code == 0
        assert opened[0].allow_eval is False and opened[0].runner.allow_eval is False

    def test_allow_eval_is_passed_on(self, served, opened):
        result = invoke("serve", LINREG, "--allow-eval", "--break", "28:loss < 1")
        assert result.exit_code == 0, result.output
        command = served[0][0]
        assert "--no-eval" not in command and command[command.index("--break") + 1] == "28:loss < 1"
        assert invoke("run", *command[command.index("run") + 1:]).exit_code == 0
        assert opened[0].allow_eval is True

    def test_a_condition_needs_allow_eval(self, served):
        result = invoke("serve", LINREG, "--break", "28:loss < 1")
        assert result.exit_code == 2 and "--allow-eval" in result.output and served == []

    def test_non_loopback_host_with_allow_eval_warns_plainly(self, served):
        result = invoke("serve", LINREG, "--host", "0.0.0.0", "--allow-eval")
        assert result.exit_code == 0
        assert "WARNING" in result.stderr and "every browser that connects can run any Python code on this " \
            "machine" in " ".join(result.stderr.split())
        assert served[0][1] == "0.0.0.0"

    def test_non_loopback_host_without_allow_eval_says_evaluation_is_off(self, served):
        result = invoke("serve", LINREG, "--host", "0.0.0.0")
        assert "WARNING" not in result.stderr
        assert "evaluation, watches and conditions are off" in result.stderr
        assert "--no-eval" in served[0][0]

    @pytest.mark.parametrize(("host", "loopback"), [
        ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
        ("192.168.1.5", False), ("::", False), ("teacher.example.org", False),
    ])
    def test_loopback(self, host, loopback):
        assert is_loopback(host) is loopback


def test_a_served_replay_runs_without_evaluation_too(tmp_path):
    from tensorscope.serve import app_command

    recorded = tmp_path / "lesson.json"
    invoke("trace", LINREG, "-o", str(recorded), "--max-steps", "3")
    command = app_command(str(recorded), stop_on=["grad:w"])
    assert command[3] == "replay" and "--no-eval" in command and "grad:w" in command
    assert "--no-eval" not in app_command(str(recorded), allow_eval=True)
