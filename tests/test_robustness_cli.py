"""Every kind of broken or unusual script through `trace` and `check`: a clear answer, nothing lost, no crash.

Exit codes: 2 when the script cannot run, 1 for flags, an exception or a non-zero exit, 0 for a clean run.
Most cases run the command in this process (click's CliRunner); the ones that involve the process itself
(os._exit, Ctrl+C, a stdin that never closes, a script stuck in a C call) run `python -m tensorscope`.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_runs import tensorscope_process as tensorscope
from click.testing import CliRunner, Result
from forked_python import forked_python  # plain python, a forked child per script (a fresh one costs seconds)

from tensorscope.checks import default_checks
from tensorscope.cli import main
from tensorscope.engine import Session
from tensorscope.model import Trace, TraceFormatError

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(REPO)}


def cli(*args: str) -> Result:
    """`tensorscope ARGS` in this process; an error inside tensorscope fails the test with its traceback."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def python(path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The script under plain python, as the reference for what tensorscope must reproduce."""
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=path.parent,
                          env=ENV, timeout=timeout, stdin=subprocess.DEVNULL)


def check_json(path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("check", str(path), "--json", *extra)
    return result.exit_code, json.loads(result.stdout)


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


class TestCannotRun:
    """A script that cannot run at all: exit 2, one clear line on stderr, no traceback."""

    @pytest.mark.parametrize(("name", "make", "expected"), [
        ("missing", lambda d: d / "missing.py", "no such file"),
        ("directory", lambda d: d, "is a directory"),
        ("not UTF-8", lambda d: _write_bytes(d / "latin.py", b"print('caf\xe9')\n"), "not UTF-8"),
        ("binary", lambda d: _write_bytes(d / "blob.py", bytes(range(256)) * 4), "not"),
        ("prose", lambda d: _write_bytes(d / "notes.txt", b"These are my notes about training.\n"),
         "syntax error"),
    ])
    def test_one_line_and_exit_2(self, tmp_path, name, make, expected):
        """`trace` and `check` both answer with one `tensorscope: ...` line and exit 2."""
        path = make(tmp_path)
        for command in ("trace", "check"):
            result = cli(command, str(path))
            assert result.exit_code == 2, (name, result.output)
            assert result.stderr.startswith("tensorscope: ") and expected in result.stderr, result.stderr
            assert "Traceback" not in result.stderr and result.stdout == ""
            assert len(result.stderr.strip().splitlines()) <= 3  # the line (syntax errors: + code, caret)

    def test_run_refuses_before_opening_the_ui(self, tmp_path):
        """`run` on a missing script exits 2 with the same line instead of opening an empty debugger."""
        result = cli("run", str(tmp_path / "missing.py"))
        assert result.exit_code == 2 and "no such file" in result.stderr

    @pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                        reason="running as root: a chmod 000 file stays readable, so there is nothing to see")
    def test_unreadable(self, write_script):
        """A file without read permission: exit 2, `permission denied`."""
        path = write_script("print('hi')\n")
        path.chmod(0)
        try:
            result = cli("check", str(path))
        finally:
            path.chmod(0o644)
        assert result.exit_code == 2 and "permission denied" in result.stderr

    def test_syntax_error_shows_line_and_caret(self, write_script):
        """The file name, the line number, the offending line and a caret under the error."""
        path = write_script("import torch\nx = torch.ones(3\ny = 2\n")
        result = cli("check", str(path))
        assert result.exit_code == 2 and "Traceback" not in result.stderr
        first, code, caret = result.stderr.rstrip("\n").splitlines()
        assert first.startswith("tensorscope: ") and "script.py:2: syntax error" in first
        assert code.strip() == "x = torch.ones(3" and caret.strip() == "^"

    def test_null_bytes(self, tmp_path):
        """A source with NUL bytes is refused as not Python, not crashed on."""
        path = _write_bytes(tmp_path / "nul.py", b"x = 1\x00\n")
        result = cli("check", str(path))
        assert result.exit_code == 2 and result.stderr.startswith("tensorscope: ")


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class TestSourceText:
    """Unusual but valid source files run exactly as under plain python."""

    def test_empty_script_is_a_clean_run(self, write_script):
        """An empty file: exit 0, `finished`, and no made-up `line 0` step."""
        path = write_script("")
        result = cli("trace", str(path))
        assert result.exit_code == 0
        assert "line 0" not in result.stdout and last_line(result.stdout) == "finished after 1 steps"
        assert cli("check", str(path)).exit_code == 0

    def test_coding_cookie(self, tmp_path):
        """`# -*- coding: latin-1 -*-` is honoured: the text prints as plain python prints it."""
        path = _write_bytes(tmp_path / "latin.py", b"# -*- coding: latin-1 -*-\nprint('caf\xe9')\n")
        code, payload = check_json(path)
        assert code == 0 and payload["stdout"] == python(path).stdout == "café\n"
        trace = Trace.from_json(cli("trace", str(path), "--json").stdout)
        assert trace.source[1] == "print('café')"

    def test_windows_line_endings(self, tmp_path):
        """CRLF files run, and the source shown has no stray `\\r`."""
        source = b"import torch\r\nx = torch.ones(2)\r\nprint(x.sum().item())\r\n"
        path = _write_bytes(tmp_path / "crlf.py", source)
        result = cli("trace", str(path))
        assert result.exit_code == 0 and "> 2.0" in result.stdout and "\r" not in result.stdout
        assert "ran line   2: x = torch.ones(2)\n" in result.stdout

    def test_utf8_bom(self, tmp_path):
        """A BOM at the start (Windows editors) is not a syntax error."""
        path = _write_bytes(tmp_path / "bom.py", b"\xef\xbb\xbfprint('ok')\n")
        code, payload = check_json(path)
        assert code == 0 and payload["stdout"] == "ok\n"


RAISES = {
    "top level": ("print('start')\nx = 1 / 0\n", "ZeroDivisionError", 2, "<module>"),
    "in a function": (
        "def f(n):\n    print('in f')\n    return n / 0\nf(1)\n", "ZeroDivisionError", 3, "f"),
    "in nn.Module.forward": (
        """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)

            def forward(self, x):
                print("forward")
                raise ValueError("bad batch")

        Net()(torch.ones(4, 3))
        """, "ValueError", 11, "forward"),
    "in a torch call": (
        "import torch\nprint('start')\na = torch.ones(2, 3)\nb = a @ a\n", "RuntimeError", 4, "<module>"),
}


class TestScriptRaises:
    """An exception in the script: exit 1, one line naming it and its line, the output before it kept."""

    @pytest.mark.parametrize("case", list(RAISES))
    def test_check_and_trace(self, write_script, case):
        """`check` and `trace -o` both report the exception plain python raises, where it raised."""
        source, exc_type, line, function = RAISES[case]
        import textwrap

        path = write_script(textwrap.dedent(source))
        plain = python(path)
        assert plain.returncode == 1 and f"{exc_type}" in plain.stderr
        code, payload = check_json(path)
        assert code == 1 and payload["end_reason"] == "exception"
        assert payload["exception"]["type"] == exc_type and payload["exception"]["line"] == line
        assert payload["stdout"] == plain.stdout

        text = cli("check", str(path))
        assert last_line(text.stdout).startswith("1 error") and f"✖ {exc_type}" in last_line(text.stdout)
        assert f"(line {line}, in {function})" in last_line(text.stdout)

        out = path.parent / "out.json"
        result = cli("trace", str(path), "-o", str(out))
        assert result.exit_code == 1 and f"✖ {exc_type}" in result.stderr
        trace = Trace.from_json(out.read_text(encoding="utf-8"))
        assert trace.end_reason == "exception" and trace.steps[-1].event == "exception"
        assert trace.stdout == plain.stdout and trace.exception is not None and trace.exception.line == line

    def test_keyboard_interrupt_raised_by_the_script(self, write_script):
        """`raise KeyboardInterrupt` in the script is the script's exception: exit 1, and it is named."""
        path = write_script("print('working')\nraise KeyboardInterrupt\n")
        result = cli("check", str(path))
        assert result.exit_code == 1
        assert "✖ KeyboardInterrupt (line 2, in <module>)" in last_line(result.stdout)
        assert "KeyboardInterrupt:  " not in result.stdout


class TestExits:
    """SystemExit(0)/None is a normal end; any other status is reported and makes `check` exit 1."""

    @pytest.mark.parametrize("call", ["raise SystemExit(0)", "raise SystemExit(None)",
                                      "import sys; sys.exit()"])
    def test_status_zero_is_a_clean_end(self, write_script, call):
        """Exit 0, and the verdict says the script exited normally."""
        path = write_script(f"print('bye')\n{call}\nprint('never')\n")
        code, payload = check_json(path)
        assert code == 0 and payload["exit_code"] == 0 and payload["completed"]
        assert payload["stdout"] == "bye\n"
        result = cli("check", str(path))
        assert "exited with status 0 (a normal end)" in last_line(result.stdout)

    def test_status_three(self, write_script):
        """`SystemExit(3)` inside a function: exit 1, `exited with status 3`, an end step in the trace."""
        path = write_script("import sys\ndef main():\n    print('fail')\n    sys.exit(3)\n"
                            "main()\nprint('x')\n")
        code, payload = check_json(path)
        assert code == 1 and payload["exit_code"] == 3 and not payload["completed"]
        assert payload["stdout"] == "fail\n"
        assert "exited with status 3" in last_line(cli("check", str(path)).stdout)
        out = path.parent / "t.json"
        result = cli("trace", str(path), "-o", str(out))
        assert result.exit_code == 1 and "exited with status 3" in result.stderr
        trace = Trace.from_json(out.read_text())
        assert trace.exit_code == 3 and trace.steps[-1].event == "end"

    def test_exit_with_a_message(self, write_script):
        """`sys.exit("message")`: status 1 as under python, and the message kept on the script's stderr."""
        path = write_script("import sys\nsys.exit('could not find data/')\n")
        plain = python(path)
        code, payload = check_json(path)
        assert code == 1 and payload["exit_code"] == plain.returncode == 1
        trace = Trace.from_json(cli("trace", str(path), "--json").stdout)
        assert trace.stderr == plain.stderr == "could not find data/\n"

    def test_os_exit_ends_the_run_not_tensorscope(self, write_script):
        """`os._exit(4)`: tensorscope reports status 4, keeps the output before it and writes the trace."""
        path = write_script("import os\nprint('before', flush=True)\nos._exit(4)\nprint('after')\n")
        assert python(path).returncode == 4
        proc = tensorscope("check", str(path), "--json")
        assert proc.returncode == 1, proc.stderr
        payload = json.loads(proc.stdout)
        assert payload["exit_code"] == 4 and payload["stdout"] == "before\n"
        out = path.parent / "t.json"
        proc = tensorscope("trace", str(path), "-o", str(out))
        assert proc.returncode == 1 and "exited with status 4" in proc.stderr
        trace = Trace.from_json(out.read_text())
        assert trace.exit_code == 4 and trace.stdout == "before\n" and trace.steps[-1].event == "end"

    def test_os_exit_zero(self, write_script):
        """`os._exit(0)` is a clean end."""
        path = write_script("import os\nos._exit(0)\n")
        code, payload = check_json(path)
        assert code == 0 and payload["exit_code"] == 0


class TestInput:
    """`input()` never hangs: the script's stdin is empty, as with `python script.py < /dev/null`."""

    def test_input_with_a_stdin_that_never_closes(self, write_script):
        """Even when tensorscope's own stdin is an open pipe, `check` ends with EOFError at once."""
        path = write_script("print('asking')\nname = input('name? ')\nprint(name)\n")
        proc = subprocess.Popen([sys.executable, "-m", "tensorscope", "check", str(path), "--json"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=REPO, env=ENV)
        try:
            out, err = proc.communicate(timeout=120)  # stdin stays open: the script must not wait on it
        finally:
            proc.kill()
            proc.wait()
        payload = json.loads(out)
        assert proc.returncode == 1 and payload["exception"]["type"] == "EOFError"
        assert payload["stdout"] == "asking\nname? "

    def test_reads_of_stdin_are_counted(self, write_script):
        """The session says how often the script read its empty stdin (the TUI explains it from this)."""
        path = write_script("import sys\ndata = sys.stdin.read()\nprint(repr(data))\n")
        session = Session(str(path))
        trace = session.record()
        assert trace.stdout == "''\n" and session.stdin_reads == 1


class TestOutput:
    """What the script prints is kept exactly, whatever it does with its streams."""

    def test_threads(self, write_script):
        """Prints from threads the script starts are the script's output, as under python."""
        path = write_script("""
            import threading
            lock = threading.Lock()
            lines = []
            def work(i):
                with lock:
                    print(f"thread {i}")
            ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            print("joined")
        """)
        code, payload = check_json(path)
        assert code == 0
        assert sorted(payload["stdout"].splitlines()) == sorted(python(path).stdout.splitlines())

    def test_replaced_sys_stdout(self, write_script):
        """A script that swaps sys.stdout for a StringIO and back gets the same output as under python."""
        path = write_script("""
            import io, sys
            saved, sys.stdout = sys.stdout, io.StringIO()
            print("hidden")
            text, sys.stdout = sys.stdout.getvalue(), saved
            print("captured:", text.strip())
        """)
        code, payload = check_json(path)
        assert code == 0 and payload["stdout"] == python(path).stdout == "captured: hidden\n"
        trace = Trace.from_json(cli("trace", str(path), "--json").stdout)
        assert trace.stdout == "captured: hidden\n"

    def test_ten_megabytes(self, write_script):
        """10 MB of output: the start and the end are kept, a line says how much was left out between."""
        path = write_script("""
            import sys
            print("first line")
            sys.stdout.write(("x" * 1023 + "\\n") * 10 * 1024)
            print("last line")
        """)
        code, payload = check_json(path)
        out = payload["stdout"]
        assert code == 0 and out.startswith("first line\n") and out.endswith("last line\n")
        assert "characters not kept]" in out and len(out) < 2_100_000
        head, rest = out.split("\n[tensorscope: ", 1)
        dropped, tail = rest.split(" characters not kept]\n", 1)
        written = len("first line\n") + 10 * 1024 * 1024 + len("last line\n")
        assert len(head) + int(dropped) + len(tail) == written

    def test_dataloader_workers_print_for_real(self, write_script):
        """Prints from DataLoader worker processes reach the terminal, as under python (not lost in a copy
        of tensorscope's buffers in the child)."""
        path = write_script("""
            import torch
            from torch.utils.data import DataLoader, Dataset

            class Noisy(Dataset):
                def __len__(self):
                    return 4

                def __getitem__(self, i):
                    print(f"item {i}", flush=True)
                    return torch.tensor([float(i)])

            total = sum(float(b.sum()) for b in DataLoader(Noisy(), batch_size=2, num_workers=2))
            print("total", total)
        """)
        proc = tensorscope("check", str(path))
        assert proc.returncode == 0, proc.stderr
        # two worker processes write "item i" and its newline separately (as under plain python), so lines
        # from the two can interleave: count the items, not the lines
        assert [proc.stdout.count(f"item {i}") for i in range(4)] == [1, 1, 1, 1]

    def test_unicode_and_escape_codes_kept_as_data(self, write_script):
        """The JSON keeps the script's bytes exactly; the text report shows ESC as ␛ so it cannot recolour
        the terminal."""
        path = write_script('print("héllo 你好 🙂")\nprint("\\x1b[31mred\\x1b[0m\\x07bell")\n')
        code, payload = check_json(path)
        assert code == 0 and payload["stdout"] == python(path).stdout
        report = cli("trace", str(path)).stdout
        assert "> héllo 你好 🙂" in report and "\x1b" not in report and "\x07" not in report
        assert "> ␛[31mred␛[0m^Gbell" in report


class TestTimeouts:
    """A script that never ends: `--timeout` stops it with a clear line, and what it did is kept."""

    def test_infinite_loop(self, write_script):
        """`check --timeout 1` on `while True: pass`: exit 1, the time-limit line, the output before."""
        path = write_script("print('start')\nwhile True:\n    pass\n")
        start = time.monotonic()
        result = cli("check", str(path), "--timeout", "1")
        assert time.monotonic() - start < 30
        assert result.exit_code == 1 and "the time limit (--timeout) was reached" in last_line(result.stdout)
        code, payload = check_json(path, "--timeout", "1")
        assert code == 1 and payload["end_reason"] == "timeout" and payload["stdout"] == "start\n"

    def test_trace_timeout_writes_the_trace_so_far(self, write_script):
        """`trace --timeout 1 -o t.json` writes a valid trace of the steps before the limit."""
        path = write_script("import torch\nx = torch.zeros(1)\nwhile True:\n    x += 1\n")
        out = path.parent / "t.json"
        result = cli("trace", str(path), "--timeout", "1", "-o", str(out))
        assert result.exit_code == 1 and "time limit" in result.stderr
        trace = Trace.from_json(out.read_text())
        assert trace.end_reason == "timeout" and not trace.completed and len(trace.steps) > 3
        assert trace.steps[-1].tensor("x") is not None

    def test_stuck_in_a_c_call(self, write_script):
        """A script asleep in `time.sleep` (no Python line to stop at) still ends at the limit."""
        path = write_script("import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
        start = time.monotonic()
        proc = tensorscope("check", str(path), "--timeout", "1", "--json", timeout=90)
        assert time.monotonic() - start < 60
        payload = json.loads(proc.stdout)
        assert proc.returncode == 1 and payload["end_reason"] == "timeout"
        assert payload["stdout"] == "sleeping\n"

    def test_ctrl_c_keeps_the_trace(self, tmp_path):
        """Ctrl+C on `trace -o`: exit 1, `stopped`, and the JSON of the steps so far."""
        marker = tmp_path / "started"
        path = tmp_path / "loop.py"
        path.write_text(f"import pathlib\nn = 0\npathlib.Path({str(marker)!r}).touch()\n"
                        "while True:\n    n += 1\n", encoding="utf-8")
        out = tmp_path / "t.json"
        proc = subprocess.Popen([sys.executable, "-m", "tensorscope", "trace", str(path), "-o", str(out)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=REPO, env=ENV)
        try:
            deadline = time.monotonic() + 90
            while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
            assert marker.exists(), proc.stderr.read() if proc.stderr else ""
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == 1 and "stopped" in err and "Traceback" not in err
        trace = Trace.from_json(out.read_text())
        assert trace.end_reason == "stopped" and len(trace.steps) > 3


class TestSizes:
    """Big tensors and long runs stay fast and bounded."""

    def test_ten_million_elements_in_scope(self, write_script):
        """A 10^7-element tensor in scope: each step stays well under a second (values are not read)."""
        path = write_script("""
            import torch
            big = torch.randn(10_000_000)
            total = 0
            for i in range(20):
                total += i
            big.mul_(2)
            total += 1
        """)
        times: list[float] = []
        session = Session(str(path), monitors=default_checks(),
                          on_step=lambda s: times.append(time.perf_counter()))
        trace = session.record()
        assert trace.completed and not session.internal_errors
        gaps = sorted(b - a for a, b in zip(times[3:], times[4:], strict=False))  # after `big` exists
        assert gaps[len(gaps) // 2] < 0.05 and gaps[-1] < 0.5, gaps[-3:]
        view = trace.steps[-1].tensor("big")
        assert view is not None and view.numel == 10_000_000 and view.preview is None

    def test_check_a_hundred_thousand_steps(self, write_script):
        """`check` runs 10^5 line events to the end with the right output (it keeps no steps at all)."""
        path = write_script("import torch\nw = torch.zeros(3)\nfor i in range(50_000):\n    w += 1\n"
                            "print(w.tolist())\n")
        code, payload = check_json(path)
        assert code == 0 and payload["stdout"] == "[50000.0, 50000.0, 50000.0]\n"

    def test_deep_recursion_stays_cheap(self, write_script):
        """Recursion 900 deep: the trace finishes; each step keeps a bounded call stack and its true depth."""
        path = write_script("""
            def deep(n):
                return 0 if n == 0 else 1 + deep(n - 1)
            print(deep(900))
            try:
                deep(100_000)
            except RecursionError:
                print("RecursionError")
        """)
        start = time.monotonic()
        session = Session(str(path))
        trace = session.record()
        assert time.monotonic() - start < 60
        assert trace.stdout == python(path).stdout == "900\nRecursionError\n"
        deepest = max(trace.steps, key=lambda s: s.depth)
        assert deepest.depth >= 900 and len(deepest.stack) <= 32
        assert deepest.stack[0].function == "<module>" and deepest.stack[-1].function == "deep"


LIBRARY_SCRIPTS = {
    "DataLoader, no workers": """
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        ds = TensorDataset(torch.arange(8.).reshape(8, 1), torch.arange(8.))
        for xb, yb in DataLoader(ds, batch_size=4, num_workers=0):
            print(xb.sum().item(), yb.tolist())
    """,
    "DataLoader, 2 workers": """
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        ds = TensorDataset(torch.arange(8.).reshape(8, 1), torch.arange(8.))
        for xb, yb in DataLoader(ds, batch_size=4, num_workers=2):
            print(xb.sum().item(), yb.tolist())
    """,
    "torch.save of a class from the script": """
        import io
        import torch
        class Box:
            def __init__(self, t):
                self.t = t
        buf = io.BytesIO()
        torch.save({"box": Box(torch.ones(2))}, buf)
        buf.seek(0)
        back = torch.load(buf, weights_only=False)
        print(type(back["box"]).__module__, type(back["box"]).__name__, back["box"].t.tolist())
    """,
    "torch.func": """
        import torch
        from torch.func import grad, vmap
        def f(x):
            return (x ** 2).sum()
        x = torch.tensor([1.0, 2.0])
        print(grad(f)(x).tolist(), vmap(torch.sin)(x).shape)
    """,
    "no_grad as a decorator": """
        import torch
        @torch.no_grad()
        def update(w):
            w -= 0.1 * w.grad
            return torch.is_grad_enabled()
        w = torch.ones(2, requires_grad=True)
        (w * 3).sum().backward()
        print(update(w), torch.is_grad_enabled(), w.tolist())
    """,
    "generators and recursion": """
        import torch
        def batches(n):
            for i in range(n):
                yield torch.full((2,), float(i))
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)
        print([b.sum().item() for b in batches(3)], fact(12))
        g = batches(2)
        print(next(g).tolist())
    """,
    "a __repr__ that raises and a __getattr__ that lies": """
        import torch
        class BadRepr:
            def __repr__(self):
                raise RuntimeError("no repr for you")
        class Liar:
            def __getattr__(self, name):
                return torch.ones(1)
        class FakeTensor:
            @property
            def __class__(self):
                return torch.Tensor
            def __getattr__(self, name):
                return 42
        bad, liar, fake = BadRepr(), Liar(), FakeTensor()
        things = [bad, liar, fake, torch.zeros(2)]
        named = {"fake": fake, "real": torch.ones(1)}
        x = torch.ones(3, requires_grad=True)
        (x * 2).sum().backward()
        print(isinstance(fake, torch.Tensor), liar.shape.tolist(), x.grad.tolist())
    """,
    "a signal handler": """
        import signal
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: print("terminated"))
        print(previous, callable(signal.signal(signal.SIGTERM, previous)))
    """,
}


class TestLibrariesAndOddObjects:
    """Real-world script features run exactly as under python, through `check` and `trace`."""

    @pytest.mark.parametrize("case", list(LIBRARY_SCRIPTS))
    def test_same_as_python(self, write_script, case):
        """Same stdout as python and no exception, no internal error, and the trace saves."""
        import textwrap

        path = write_script(textwrap.dedent(LIBRARY_SCRIPTS[case]))
        plain = forked_python(path)
        expected, error = plain.stdout, plain.exception
        assert error == "", error
        code, payload = check_json(path)
        assert code == 0 and payload["stdout"] == expected, payload
        session = Session(str(path), monitors=default_checks())
        trace = session.record(timeout=120)
        assert trace.completed and trace.stdout == expected
        assert not session.internal_errors
        assert Trace.from_json(trace.to_json()).stdout == expected


class TestTraceFiles:
    """Trace files are JSON, never pickle; a damaged one gives a clear error, not a traceback."""

    def test_a_trace_file_is_plain_json(self, write_script, tmp_path):
        """`trace -o x.json` writes JSON that any JSON reader opens."""
        path = write_script("import torch\nw = torch.ones(2, requires_grad=True)\n(w * w).sum().backward()\n")
        out = tmp_path / "t.json"
        assert cli("trace", str(path), "-o", str(out)).exit_code == 0
        data = json.loads(out.read_text(encoding="utf-8"))
        assert data["script"].endswith("script.py") and data["steps"][-1]["event"] == "end"

    @pytest.mark.parametrize(("text", "says"), [
        ("", "not JSON"),
        ("{\"script\": \"a.py\", \"steps\": [", "not JSON"),
        ("[1, 2]", "no 'script' field"),
        ("{\"script\": 3}", "trace.script should be str"),
        ("{\"script\": \"a.py\", \"steps\": [7]}", "trace.steps[0] is not a Step record"),
        ("{\"script\": \"a.py\", \"steps\": [{\"index\": 0}]}", "trace.steps[0] has no file, line"),
        ("{\"script\": \"a.py\", \"steps\": [{\"index\": 0, \"file\": \"a.py\", \"line\": \"two\", "
         "\"function\": \"f\", \"depth\": 0}]}", "trace.steps[0].line should be int"),
        ("{\"script\": \"a.py\", \"sources\": [\"x\"]}", "trace.sources should map"),
        ("{\"script\": \"a.py\", \"schema\": 999}", "newer than this tensorscope"),
    ])
    def test_malformed(self, text, says):
        """Each damage is named in one sentence (a TraceFormatError, which is a ValueError)."""
        with pytest.raises(TraceFormatError, match=None) as info:
            Trace.from_json(text)
        assert says in str(info.value) and isinstance(info.value, ValueError)
        assert "\n" not in str(info.value)

    def test_a_pickle_is_refused_unopened(self):
        """Bytes of a pickle are refused with a sentence saying traces are JSON; nothing is unpickled."""
        with pytest.raises(TraceFormatError, match="pickle"):
            Trace.from_json(pickle.dumps({"script": "a.py"}))

    def test_round_trip_of_a_failed_run(self, write_script):
        """The trace of a run that raised reads back equal, exception and all."""
        path = write_script("import torch\nx = torch.ones(2)\nprint('a')\ny = x @ torch.ones(3)\n")
        trace = Session(str(path), monitors=default_checks()).record()
        assert trace.end_reason == "exception"
        assert Trace.from_json(trace.to_json()) == trace
