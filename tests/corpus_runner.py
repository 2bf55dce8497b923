"""A fork server for the corpus tests: runs `python -m tensorscope ARGS` without importing torch each time.

Started as `python tests/corpus_runner.py` by tests/corpus_runs.py, it imports torch and tensorscope's CLI,
engine and checks once (it never touches CUDA, so a child can still initialise it), then reads requests,
one JSON line each on its stdin: {"runs": [{"argv": [...], "cwd": ..., "stdout": path, "stderr": path}]}.
It forks one child per run, all at once; a child is `python -m tensorscope ARGV` run in CWD with an empty
stdin and its stdout/stderr in the given files, its engine forked from it (torch is imported once, here).
When all have ended it answers one JSON line with their exit statuses (negative: killed by that signal), as
subprocess reports them. It exits at the end of its stdin.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from typing import Any

import tensorscope.checks
import tensorscope.engine.process
import tensorscope.engine.session
from tensorscope.cli import main


def _child(run: dict[str, Any]) -> None:
    """In the forked child: become `python -m tensorscope ARGV` with the given files, never return."""
    status = 1
    try:
        os.chdir(run["cwd"])
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                                (1, run["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, run["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            opened = os.open(path, flags, 0o644)
            os.dup2(opened, fd)
            os.close(opened)
        sys.argv = [os.path.join(os.path.dirname(tensorscope.__file__), "__main__.py"), *run["argv"]]
        # This process has imported torch and the engine and never touched CUDA: its engine children are
        # forked from it (as from the engine's own fork server), not from a fork server started anew,
        # which would import torch again for every run.
        tensorscope.engine.process.forkserver_context = lambda: multiprocessing.get_context("fork")
        try:
            main(args=run["argv"], prog_name="python -m tensorscope")
            status = 0
        except SystemExit as exc:  # as python ends on an uncaught SystemExit
            if exc.code is None or isinstance(exc.code, int):
                status = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(status)


def _serve() -> None:
    """Answer requests until stdin ends."""
    pending = b""
    while True:
        while b"\n" not in pending:
            chunk = os.read(0, 65536)
            if not chunk:
                return
            pending += chunk
        line, pending = pending.split(b"\n", 1)
        runs = json.loads(line)["runs"]
        pids = []
        for run in runs:
            pid = os.fork()
            if pid == 0:
                _child(run)
            pids.append(pid)
        statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        os.write(1, (json.dumps({"statuses": statuses}) + "\n").encode())


if __name__ == "__main__":
    assert tensorscope.checks and tensorscope.engine.session  # imported once, here, for every child
    _serve()
