"""Start to first frame: `tensorscope run SCRIPT` until the first Step is on screen. Prints JSON.

`python benchmarks/first_frame.py T0 [SCRIPT]`, T0 being the launcher's `time.time()` just before it
started this process: the figure covers the interpreter's start, every import, the script's start and
the first refresh (the CPU time this process used by then is printed too). The app is built by the
real `run` command; only its `run()` is replaced by a headless pilot (no terminal here) that waits for
the first Step.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> None:
    t0 = float(sys.argv[1])
    script = sys.argv[2] if len(sys.argv) > 2 else "linreg"
    from tensorscope import cli
    from tensorscope.engine import process

    shown: list[float] = []
    cpu: list[float] = []
    warm_up = process.warm_up

    def warm_up_then_patch() -> None:
        """`run` starts the engine's fork server before it imports the UI: so does this, then patches."""
        warm_up()
        from tensorscope.tui.app import TensorScopeApp

        TensorScopeApp.run = headless_run  # type: ignore[method-assign,assignment]

    def headless_run(app: Any) -> None:
        import asyncio

        async def drive() -> None:
            async with app.run_test(size=(120, 40)) as pilot:
                while app.current_step is None:
                    await pilot.pause(0.002)
                await pilot.pause()
                shown.append(time.time() - t0)
                cpu.append(time.process_time())

        asyncio.run(drive())

    process.warm_up = warm_up_then_patch  # type: ignore[assignment]
    try:
        cli.main(["run", script], standalone_mode=False)
    finally:
        print(json.dumps({"first_frame_s": shown[0] if shown else None, "cpu_s": cpu[0] if cpu else None}))


if __name__ == "__main__":
    main()
