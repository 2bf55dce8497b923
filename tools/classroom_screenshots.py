"""Make the README's classroom pictures (screenshots/classroom-*.svg): autoplay and the lesson's intro.

Run from the repository root:  .venv/bin/python tools/classroom_screenshots.py
"""

from __future__ import annotations

from pathlib import Path

from tensorscope.screenshot import take
from tensorscope.tui.app import TensorScopeApp

SHOTS = {
    # tensorscope run forgot_zero_grad --lang zh --autoplay 1.5: autoplay has stopped at the flag
    "classroom-autoplay-zh": (("forgot_zero_grad",), {"lang": "zh", "autoplay": 1.5},
                              {"until_flag": "grad-accumulation"}),
    # tensorscope run linreg: before the first line, the scenario says what it is about
    "classroom-intro": (("linreg",), {}, {"steps": 0}),
}


def main() -> None:
    folder = Path(__file__).resolve().parent.parent / "screenshots"
    for name, (args, options, how) in SHOTS.items():
        path = folder / f"{name}.svg"
        path.write_text(take(TensorScopeApp(*args, **options), **how), encoding="utf-8")
        print(path.relative_to(folder.parent))


if __name__ == "__main__":
    main()
