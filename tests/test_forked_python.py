"""The forked reference (tests/forked_python.py) against real `python` processes: the same output, exit
status and exception for what the tests that use it compare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from forked_python import forked_python

SCRIPTS = {
    "everything": """
        import atexit, os, sys, warnings
        import torch
        atexit.register(lambda: print("atexit ran"))
        here = os.path.dirname(os.path.abspath(__file__))
        print(sys.argv[1:], os.getcwd() == here, sys.path[0] == here)
        print(__name__, __spec__, torch.randn(2).shape)
        warnings.warn("careful")
        try:
            input()
        except EOFError:
            print("stdin is empty")
        os.write(1, b"from C\\n")
        def f():
            raise ValueError("boom")
        f()
    """,
    "exit-status": "import sys\nprint('bye')\nsys.exit(3)\n",
    "exit-message": "import sys\nsys.exit('a message for stderr')\n",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_same_as_a_fresh_python(name: str, write_script) -> None:
    path = write_script(SCRIPTS[name], name=f"{name.replace('-', '_')}.py")
    fresh = subprocess.run([sys.executable, str(path), "one", "two"], capture_output=True, text=True,
                           cwd=path.parent, stdin=subprocess.DEVNULL, timeout=120)
    forked = forked_python(path, "one", "two")
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert forked.exception == ("ValueError" if name == "everything" else "")


def test_each_child_draws_its_own_random_numbers_as_a_fresh_python_does(write_script) -> None:
    path = write_script("import random, numpy, torch\n"
                        "print(torch.randn(2), numpy.random.rand(), random.random())\n")
    assert len({forked_python(path).stdout for _ in range(3)}) == 3


def test_a_script_that_hangs_times_out(write_script) -> None:
    path = write_script("import time\ntime.sleep(60)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        forked_python(Path(path), timeout=0.5)
