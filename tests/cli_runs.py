"""`tensorscope ARGS` for the tests: in this process (click's CliRunner: the engine child is forked from this
process's fork server, already warm) or as a process of its own (a fresh python and fork server, about 2 s
of CPU: for what only a process shows, such as its exit status as the shell sees it or its output as it
streams)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tensorscope.cli import main

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8"}


def tensorscope_here(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`tensorscope ARGS` run in this process from `cwd` (default: the repository); an error inside
    tensorscope fails the test with its traceback."""
    with contextlib.chdir(cwd or REPO):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return subprocess.CompletedProcess(["tensorscope", *args], result.exit_code, result.stdout, result.stderr)


def tensorscope_process(*args: str, cwd: Path | None = None, timeout: float = 120,
                        **kw: Any) -> subprocess.CompletedProcess[str]:
    """`python -m tensorscope ARGS` as a process of its own, from `cwd` (default: the repository), stdin
    from /dev/null unless given."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "tensorscope", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=ENV, timeout=timeout, **kw)
