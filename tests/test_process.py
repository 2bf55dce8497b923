"""The engine process: the script runs in a child of its own; its death ends the run, never tensorscope."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runs import tensorscope_here

from tensorscope.engine.process import EngineProcess, RunResult, RunSpec, run_headless, spec_for, take_engine
from tensorscope.engine.target import ScriptTarget
from tensorscope.model import Step


def spec(path, mode="interactive", **options) -> RunSpec:
    return spec_for(ScriptTarget.load(str(path)), mode, **options)


class Live:
    """An interactive run in a child from the fork server, driven as the app drives it."""

    def __init__(self, path, **options) -> None:
        self.steps: list[Step] = []
        self.engine: EngineProcess = take_engine()
        self.engine.begin(spec(path, **options), on_step=self.steps.append)

    def wait_steps(self, count: int, timeout: float = 30.0) -> Step:
        deadline = time.monotonic() + timeout
        while len(self.steps) < count and not self.engine.finished:
            assert time.monotonic() < deadline, f"no step {count} in time"
            self.engine.join(0.01)
        assert len(self.steps) >= count, self.engine.result
        return self.steps[count - 1]

    def end(self, timeout: float = 30.0) -> RunResult:
        result = self.engine.join(timeout)
        assert result is not None, "the run did not end"
        return result


@pytest.mark.parametrize(("body", "status"), [
    ("import os\nos._exit(3)\n", 3),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", -signal.SIGSEGV),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", -signal.SIGKILL),
])
def test_a_dead_engine_ends_the_run_with_its_status(write_script, body, status):
    """os._exit, a segfault, SIGKILL: the run ends with its status, output and an end Step; runs go on."""
    path = write_script("print('before')\n" + body)
    live = Live(path)
    live.wait_steps(1)
    live.engine.send("continue")
    result = live.end()
    assert result.trace.end_reason == "exit" and result.trace.exit_code == status
    assert not result.trace.completed and result.trace.stdout == "before\n"
    assert live.steps[-1].event == "end" and live.steps[-1].stdout == "before\n"
    again = Live(path)
    assert again.wait_steps(1).line == 1
    again.engine.kill()


def test_the_script_is_the_main_thread_of_a_real_main(write_script):
    """In the child: the main thread, `__name__ == '__main__'`, signal handlers as under python."""
    path = write_script("""
        import os, signal, threading, multiprocessing
        got = []
        signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
        os.kill(os.getpid(), signal.SIGUSR1)
        print(__name__, threading.current_thread() is threading.main_thread(), got == [signal.SIGUSR1],
              multiprocessing.current_process().name, multiprocessing.parent_process())
    """)
    result = run_headless(spec(path, "run"))
    assert result.trace.completed, result.trace
    assert result.trace.stdout == "__main__ True True MainProcess None\n"


def test_interrupt_pauses_a_running_loop(write_script):
    """`interrupt` while `continue` runs an endless loop: the next Step is inside the loop, within 200 ms."""
    path = write_script("n = 0\nwhile True:\n    n += 1\n")
    live = Live(path)
    live.wait_steps(1)
    live.engine.send("continue")
    time.sleep(0.2)  # let it spin (any time works: the loop never ends)
    asked = time.monotonic()
    live.engine.send("interrupt")
    step = live.wait_steps(2)
    took = time.monotonic() - asked
    assert step.line in (2, 3) and step.event == "line"
    assert took < 2.0  # generous under a loaded CI machine; the budget (200 ms) is measured in benchmarks
    live.engine.kill()
    assert live.end().trace.end_reason == "stopped"


def test_kill_leaves_no_process(write_script):
    """kill() ends the child at once, mid-call, and reaps it."""
    path = write_script("import time\ntime.sleep(600)\n")
    live = Live(path)
    live.wait_steps(1)
    live.engine.send("continue")
    pid = live.engine.pid
    live.engine.kill()
    assert live.end().trace.end_reason == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_headless_timeout_kills_a_script_stuck_in_a_call(write_script):
    """run_headless(timeout): a script asleep in C is stopped, its output kept."""
    path = write_script("import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    result = run_headless(spec(path, "run"), timeout=0.5)
    assert result.trace.end_reason == "timeout" and result.trace.stdout == "sleeping\n"


def test_record_streams_every_step(write_script):
    """record mode: every line's Step arrives, and the Trace carries them all."""
    path = write_script("a = 1\nb = 2\nprint(a + b)\n")
    seen: list[Step] = []
    result = run_headless(spec(path, "record"), on_step=seen.append)
    assert result.trace.completed and result.trace.stdout == "3\n"
    assert [s.line for s in result.trace.steps] == [1, 2, 3, 3] and result.trace.steps == tuple(seen)


EXIT_HANDLERS = """
    import atexit, sys, threading

    def bye(n):
        print("bye", n)
        print("stderr bye", n, file=sys.stderr)

    def broken():
        raise ValueError("in a handler")

    atexit.register(sys.exit, 5)
    atexit.register(broken)
    atexit.register(bye, 1)
    atexit.register(bye, 2)
    go = threading.Event()
    threading.Thread(target=lambda: go.wait() and [print("thread", i) for i in range(3)]).start()
    print("last line")
    go.set()
"""


def _plain(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)


def _no_addresses(text: str) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x…", text)


@pytest.mark.parametrize("ending", ["", "raise RuntimeError('late')\n", "sys.exit(3)\n"])
@pytest.mark.parametrize("mode", ["run", "record"])
def test_exit_handlers_run_as_under_python(write_script, mode, ending):
    """After the last line the script's threads are waited for and its atexit handlers run, their output
    (an error in one included) the script's own; the exit status is python's."""
    path = write_script(EXIT_HANDLERS + ("    " + ending if ending else ""))
    plain = _plain(path)
    result = run_headless(spec(path, mode))
    trace = result.trace
    assert result.internal_errors == []
    assert trace.stdout == plain.stdout and "bye 1" in plain.stdout
    if not ending.startswith("raise"):  # python's stderr has the traceback first, the Trace its ExceptionInfo
        assert _no_addresses(trace.stderr) == _no_addresses(plain.stderr)
        assert (trace.exit_code or 0) == plain.returncode
    else:  # what python prints after the traceback is the handlers' stderr
        after = plain.stderr.split("RuntimeError: late\n", 1)[1]
        assert _no_addresses(trace.stderr) == _no_addresses(after) and after.startswith("stderr bye 2")
    if mode == "record":
        assert trace.steps[-1].event in ("end", "exception") and "bye 2\nbye 1\n" in trace.steps[-1].stdout


def test_no_exit_handler_runs_after_os_exit_or_a_stop(write_script):
    """os._exit ends the process at once (no handler runs, as under python); neither does a stopped run."""
    path = write_script("import atexit, os\natexit.register(print, 'handler')\nprint('x')\nos._exit(0)\n")
    assert run_headless(spec(path, "run")).trace.stdout == "x\n" == _plain(path).stdout
    path = write_script("import atexit, time\natexit.register(print, 'handler')\n"
                        "while True:\n    time.sleep(0.01)\n")
    assert run_headless(spec(path, "run"), timeout=0.5).trace.stdout == ""


def test_prints_from_threads_are_whole_lines(write_script):
    """Threads printing at once: each print is one line, never split by another thread's (as python)."""
    path = write_script("""
        import threading
        def say(i):
            for k in range(200):
                print("thread", i, k)
        ts = [threading.Thread(target=say, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    """)
    lines = run_headless(spec(path, "run")).trace.stdout.splitlines()
    assert sorted(lines) == sorted(f"thread {i} {k}" for i in range(4) for k in range(200))


@pytest.mark.parametrize("mode", ["run", "record"])
def test_a_thread_printing_while_the_script_ends_keeps_every_line(write_script, mode):
    """A thread still printing as the last line runs: python waits for it, every line is the script's."""
    path = write_script("""
        import threading
        go = threading.Event()
        def talk():
            go.wait()
            for i in range(300):
                print("line", i)
        threading.Thread(target=talk).start()
        go.set()
    """)
    trace = run_headless(spec(path, mode)).trace
    assert trace.stdout == _plain(path).stdout == "".join(f"line {i}\n" for i in range(300))


def test_each_run_draws_its_own_random_numbers_as_python_does(tmp_path: Path) -> None:
    """An unseeded script draws other numbers on each run under python; so it does under tensorscope, although
    every engine child comes from one fork server that imported torch and numpy once."""
    path = tmp_path / "draw.py"
    path.write_text("import random, numpy, torch\nprint(torch.initial_seed(), torch.rand(1).item())\n"
                    "print(numpy.random.rand(), random.random())\n", encoding="utf-8")
    runs = [tensorscope_here("trace", "--json", str(path)) for _ in range(3)]
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    printed = [json.loads(run.stdout)["stdout"].split() for run in runs]
    for column, what in enumerate(("torch's seed", "torch", "numpy", "random")):
        assert len({row[column] for row in printed}) == 3, (what, printed)
