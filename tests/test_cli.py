"""The command line: trace, list and the error paths every user meets first (in this process, and as a
process of its own where that is the point: scenario names found from another folder, atexit output, output
streamed while the script runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runs import ENV, tensorscope_here, tensorscope_process

from tensorscope.model import Trace

REPO = Path(__file__).resolve().parent.parent


class TestErrors:
    """A script that cannot run: one clear line on stderr, exit code 2, no traceback."""

    @pytest.mark.parametrize(
        ("make", "expected"),
        [
            (lambda d: d / "missing.py", "no such file"),
            (lambda d: d, "is a directory"),
        ],
    )
    def test_cannot_run(self, tmp_path, make, expected):
        proc = tensorscope_here("trace", str(make(tmp_path)))
        assert proc.returncode == 2
        assert expected in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1

    def test_syntax_error_shows_line_and_caret(self, tmp_path):
        bad = tmp_path / "bad.py"
        bad.write_text("import torch\nx = torch.ones(2\n")
        proc = tensorscope_here("check", str(bad))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "bad.py:2: syntax error" in proc.stderr and "^" in proc.stderr

    def test_unknown_scenario_points_at_list(self):
        proc = tensorscope_here("trace", "no_such_scenario")
        assert proc.returncode == 2 and "tensorscope list" in proc.stderr


class TestTrace:
    """`tensorscope trace` reports every step and round-trips as JSON."""

    def test_json_round_trip_and_file_output(self, tmp_path, write_script):
        path = write_script("import torch\nw = torch.ones(1, requires_grad=True)\n(w * 2).sum().backward()\n")
        proc = tensorscope_here("trace", str(path), "--json")
        assert proc.returncode == 0, proc.stderr
        trace = Trace.from_dict(json.loads(proc.stdout))
        assert trace.completed and trace.steps[-1].tensor("w").grad.preview == "[2]"
        out = tmp_path / "lesson.json"
        proc = tensorscope_here("trace", str(path), "-o", str(out))
        assert proc.returncode == 0 and proc.stdout == ""
        assert Trace.from_json(out.read_text()) .steps[-1].tensor("w").grad.preview == "[2]"

    def test_script_arguments_after_double_dash(self, write_script):
        path = write_script("import sys\nprint(sys.argv[1:])\n")
        proc = tensorscope_here("trace", str(path), "--", "--epochs", "3")
        assert "> ['--epochs', '3']" in proc.stdout

    def test_max_steps(self, write_script):
        path = write_script("while True:\n    pass\n")
        proc = tensorscope_here("trace", str(path), "--max-steps", "20")
        assert "stopped after 20 steps (--max-steps reached)" in proc.stdout

    def test_report_shows_grads_filling(self, write_script):
        path = write_script(
            """
            import torch
            w = torch.tensor([1.0], requires_grad=True)
            loss = (w * 3).sum()
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
            w.grad.zero_()
            """
        )
        out = tensorscope_here("trace", str(path)).stdout
        assert "ran line   4: loss.backward()" in out
        assert "~ w.grad: None → [3]" in out
        assert "~ w: [1] → [0.7]" in out
        assert "~ w.grad: [3] → [0]" in out


class TestScenarioNames:
    """Bundled scenarios are found by name from any folder (they ship inside the package)."""

    def test_list_and_trace_by_name_outside_the_repo(self, tmp_path):
        listing = tensorscope_process("list", cwd=tmp_path)
        assert listing.returncode == 0
        names = [line.split()[0] for line in listing.stdout.splitlines()]
        assert {"linreg", "forgot_zero_grad", "tensor_basics"} <= set(names)
        assert all(len(line.split(maxsplit=1)) == 2 for line in listing.stdout.splitlines())
        proc = tensorscope_process("trace", "linreg", "--max-steps", "3", cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout.startswith("tensorscope trace · scenarios/linreg.py")
        assert str(tmp_path) not in proc.stdout and str(REPO) not in proc.stdout


@pytest.mark.parametrize("command", ["check", "trace"])
def test_exit_handlers_print_as_under_python(tmp_path, command):
    """atexit handlers run after the script's last line under check and trace: the same stdout as python."""
    path = tmp_path / "bye.py"
    path.write_text("import atexit\natexit.register(print, 'bye')\nprint('last')\n", encoding="utf-8")
    plain = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    proc = tensorscope_process(command, str(path), "--json")
    assert json.loads(proc.stdout)["stdout"] == plain.stdout == "last\nbye\n"


class TestCheckShowsTheScriptsOutput:
    def test_output_shows_while_the_script_runs_then_the_report(self, tmp_path, write_script):
        """A long run shows its progress: the first line arrives while the script still waits for the test."""
        go = tmp_path / "go"
        path = write_script(f"""
            import pathlib, sys, time
            print("epoch 1", flush=True)
            print("careful", file=sys.stderr)
            deadline = time.monotonic() + 60
            while not pathlib.Path({str(go)!r}).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            print("epoch 2", end="")
            """)
        proc = subprocess.Popen([sys.executable, "-m", "tensorscope", "check", str(path)], cwd=REPO, env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "epoch 1\n"  # the script is still running: it waits for `go`
            assert proc.poll() is None
            go.write_text("")
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert out.startswith("epoch 2\ntensorscope check · ")  # the report on a line of its own
        assert "careful" in err and proc.returncode == 0

    def test_quiet_and_json_keep_stdout_to_the_report(self, write_script):
        path = write_script('print("epoch 1")\n')
        quiet = tensorscope_here("check", "--quiet", str(path))
        assert quiet.stdout.startswith("tensorscope check · ") and "epoch 1" not in quiet.stdout
        as_json = tensorscope_here("check", "--json", str(path))
        assert json.loads(as_json.stdout)["stdout"] == "epoch 1\n"
