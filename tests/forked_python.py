"""Scripts run as `python SCRIPT` would run them, each in a child forked from one python that has imported
torch already: a fresh python costs about 1.5 s of CPU, nearly all of it `import torch`; a fork costs a few
milliseconds.

The reference a test compares tensorscope with. What it cannot show is a difference that only a fresh
interpreter has (what a script does before its own `import torch`, an import-time warning): the suites whose
point is transparency (test_transparency, test_python_semantics, test_realworld, test_invisible, the CLI's
process tests) run real `python` processes, and test_forked_python checks this runner against them.

Each child gets a fresh `__main__`, `sys.argv`, `sys.path[0]` and working folder, stdin from /dev/null, and
its own stdout and stderr (file descriptors 1 and 2, so output from C lands there too); an uncaught exception
is printed as python prints it, with status 1; `sys.exit` gives its status; atexit handlers run at the end;
torch and numpy draw from fresh random seeds.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

_SERVER = r"""
import atexit, json, os, runpy, signal, sys, threading, time, traceback
import numpy, torch
from torch import nn
torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1)  # an optimizer's first use imports more of torch: once


def type_name(exc):
    cls = type(exc)
    if cls.__module__ in ("__main__", "builtins"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def child(path, args, cwd, out, err):
    code, exception = 1, ""
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        os.chdir(cwd)
        torch.seed()  # a fresh python seeds torch and numpy anew (random reseeds itself in a forked child)
        numpy.random.seed()
        sys.argv, sys.path[0] = [path, *args], os.path.dirname(path)
        try:
            runpy.run_path(path, run_name="__main__")
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
        except BaseException as exc:
            exception = type_name(exc)
            tb = exc.__traceback__  # from the script's first frame on, as python prints it (not runpy's)
            while tb is not None and tb.tb_frame.f_code.co_filename != path:
                tb = tb.tb_next
            traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
        threading._shutdown()  # as python ends: wait for the script's threads, then its atexit handlers
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        with open(out + ".exception", "w", encoding="utf-8") as f:
            f.write(exception)
        os._exit(code)


for request in sys.stdin:
    path, args, cwd, out, err, timeout = json.loads(request)
    pid = os.fork()
    if pid == 0:
        child(path, args, cwd, out, err)
    deadline, status = time.monotonic() + timeout, None
    while status is None:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
        elif time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = "timeout"
        else:
            time.sleep(0.005)
    print(json.dumps(status), flush=True)
"""


@dataclass(frozen=True)
class Run:
    """How a script ended: its exit status and output, like `subprocess.CompletedProcess`, and the type of its
    uncaught exception (`RuntimeError`, `torch.OutOfMemoryError`; "" for none)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    exception: str


class ForkedPython:
    """One python with torch imported, forking a child for each script it runs."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="forked-python-")
        self._count = 0
        self._lock = threading.Lock()
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)

    def run(self, path: Path, *args: str, cwd: Path | None = None, timeout: float = 120) -> Run:
        """`python PATH ARGS...` in `cwd` (default: the script's folder)."""
        with self._lock:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._count += 1
            out = Path(self._folder.name) / f"{self._count}.out"
            err = out.with_suffix(".err")
            request = [str(path), list(args), str(cwd or path.parent), str(out), str(err), timeout]
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            reply = self._proc.stdout.readline()
            assert reply, f"the forked-python server ended (status {self._proc.poll()})"
            status = json.loads(reply)
            if status == "timeout":
                raise subprocess.TimeoutExpired([str(path), *args], timeout)
            return Run([sys.executable, str(path), *args], status, out.read_text(encoding="utf-8"),
                       err.read_text(encoding="utf-8"),
                       Path(f"{out}.exception").read_text(encoding="utf-8"))

    def close(self) -> None:
        """End the server (it ends by itself when this process ends)."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        self._proc.wait(30)
        self._folder.cleanup()


_shared: ForkedPython | None = None
_shared_lock = threading.Lock()


def forked_python(path: Path, *args: str, cwd: Path | None = None, timeout: float = 120) -> Run:
    """`python PATH ARGS...` in a child of this test process's forked-python server (started on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ForkedPython()
            atexit.register(_shared.close)
        server = _shared
    return server.run(path, *args, cwd=cwd, timeout=timeout)
