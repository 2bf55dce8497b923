"""Run a script under a bdb debugger with one breakpoint never hit, as pdb runs after `break` + `continue`.

`python peers/bdb_break.py SCRIPT [ARGS...]`: the breakpoint is on the script's first blank line, so the
debugger traces the script's lines (the file has a breakpoint) and skips every other file, as pdb does.
"""

import bdb
import runpy
import sys
from pathlib import Path


class OneBreakpoint(bdb.Bdb):
    """Continue to the end; stop only at a breakpoint (there is none on an executed line)."""

    def user_line(self, frame):  # noqa: ANN001, ANN201 - bdb's own signature
        self.set_continue()


def blank_line(path: Path) -> int:
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip():
            return number
    raise SystemExit(f"{path}: no blank line for the breakpoint")


if __name__ == "__main__":
    script = Path(sys.argv[1]).resolve()
    sys.argv = sys.argv[1:]
    sys.path[0] = str(script.parent)
    debugger = OneBreakpoint()
    error = debugger.set_break(str(script), blank_line(script))
    if error:
        raise SystemExit(error)
    debugger.reset()  # the first line it sees continues, as `continue` typed at pdb's first prompt
    sys.settrace(debugger.trace_dispatch)
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.settrace(None)
