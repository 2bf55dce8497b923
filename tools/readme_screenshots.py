"""Remake the README's tour (screenshots/*.svg): each shot is one documented `tensorscope screenshot` command.

Run from the repository root:  .venv/bin/python tools/readme_screenshots.py [NAME ...]
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from pathlib import Path

SHOTS: dict[str, str] = {
    "linreg_backward": "linreg --until-line 30",
    "linreg_graph": "linreg --until-line 25",
    "forgot_zero_grad": "forgot_zero_grad --until-flag grad-accumulation",
    "forgot_zero_grad_zh": "forgot_zero_grad --until-flag grad-accumulation --lang zh",
    "device_mismatch": "device_mismatch --simulate-cuda --until-flag device-mismatch",
    "inplace_warning": "inplace_breaks_graph --until-flag inplace-saved-tensor",
    "shape_mismatch": "shape_mismatch --until-flag shape-mismatch",
    "step_back": "linreg --until-line 30 --press left",
    "help": "linreg --press question_mark",
    "evaluation": "linreg --until-line 30 --press W,l,o,s,s,full_stop,i,t,e,m,left_parenthesis,"
                  "right_parenthesis,enter,w,full_stop,g,r,a,d,enter",
    "data-breakpoint": "linreg --stop-on grad:w --press c",
}
"""Each SVG under screenshots/ and the `tensorscope screenshot` arguments that make it (`-o` added)."""


def shot_args(name: str, folder: Path | str = "screenshots") -> list[str]:
    """The `tensorscope screenshot ...` arguments that make <folder>/<name>.svg."""
    return ["screenshot", *shlex.split(SHOTS[name]), "-o", str(Path(folder) / f"{name}.svg")]


def make_all(folder: Path | str = "screenshots", names: Iterable[str] = ()) -> list[Path]:
    """Regenerate the screenshots (every one in SHOTS, or `names`) by running the CLI command of each."""
    from tensorscope.cli import main

    unknown = sorted(set(names) - set(SHOTS))
    if unknown:
        raise SystemExit(f"no screenshot named {', '.join(unknown)}; known: {', '.join(SHOTS)}")
    Path(folder).mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or SHOTS:
        args = shot_args(name, folder)
        print("tensorscope", shlex.join(args), flush=True)
        try:
            main(args, standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
        written.append(Path(folder) / f"{name}.svg")
    return written


if __name__ == "__main__":
    make_all(Path(__file__).resolve().parent.parent / "screenshots", sys.argv[1:])
