"""Key press to updated panes in the TUI: `python benchmarks/tui_keypress.py [--presses N]`, prints JSON.

Drives `TensorScopeApp` headless (Textual's `run_test` pilot) on workloads/scope50.py, continued to a
breakpoint in its loop (50 tensors in scope), or with `--workload model200` on a model of 200 parameter
tensors (grouped by module in the Tensors pane; `--open-groups` opens every group first), and times
each `n` from the key event (posted to the app as the terminal driver posts it) until the app shows the
new Step and the screen has been refreshed (`call_after_refresh`): wall time, and this process's CPU
time (the engine process makes the Step).
The pilot's own `press` is not used for the timed keys: it waits for the process to be idle (at least
two 20 ms sleeps), which would be measured as the app's time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(presses: int, warmup: int, workload: str = "scope50",
                  open_groups: bool = False) -> dict[str, object]:
    from textual import events

    from tensorscope.engine import ScriptTarget
    from tensorscope.tui.app import TensorScopeApp

    script = HERE / "workloads" / f"{workload}.py"
    loop = next(n for n, text in enumerate(script.read_text().splitlines(), 1) if text.startswith("for "))
    app = TensorScopeApp(ScriptTarget.load(str(script)), breakpoints=[loop + 1])
    wall: list[float] = []
    cpu: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        while app.current_step is None:
            await pilot.pause(0.01)
        await pilot.press("c")  # to the loop's first line: every tensor is in scope from there on
        while app.current_step.line != loop + 1:
            await pilot.pause(0.01)
        if open_groups:  # every module group open: the pane's largest table
            table = app.tensors
            while any(r.kind == "group" and r.label.lstrip().startswith("▸") for r in table.rows_shown):
                groups = (r.key for r in table.rows_shown if r.kind == "group")
                table.folds.groups.update(key.removeprefix("group:") for key in groups)
                table.redraw()
        await pilot.pause()
        rows = app.tensors.row_count
        for i in range(warmup + presses):
            before = app.current_step.index
            painted = asyncio.Event()
            t0, c0 = time.perf_counter(), time.process_time()
            app.post_message(events.Key("n", "n"))  # as the terminal driver delivers a key
            while app.current_step is None or app.current_step.index == before:
                await asyncio.sleep(0.0005)
            app.call_after_refresh(painted.set)  # once the new Step's panes are on screen
            await painted.wait()
            t1, c1 = time.perf_counter(), time.process_time()
            if i >= warmup:
                wall.append((t1 - t0) * 1e3)
                cpu.append((c1 - c0) * 1e3)
        tensors = len(app.current_step.tensors)
    session = getattr(app.runner, "session", None)
    if session is not None:
        session.join(5)  # the script's thread ends before the interpreter does
    return {
        "workload": workload,
        "tensors_in_scope": tensors,
        "table_rows": rows,
        "presses": presses,
        "median_ms": round(statistics.median(wall), 1),
        "p95_ms": round(percentile(wall, 0.95), 1),
        "cpu_median_ms": round(statistics.median(cpu), 1),
        "cpu_p95_ms": round(percentile(cpu, 0.95), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--workload", choices=("scope50", "model200"), default="scope50")
    parser.add_argument("--open-groups", action="store_true", help="open every module group first")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.presses, args.warmup, args.workload, args.open_groups))))


if __name__ == "__main__":
    main()
