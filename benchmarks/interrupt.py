"""Ctrl+C in the TUI, measured on the engine: `python benchmarks/interrupt.py [--rounds 10]`, prints JSON.

An engine process runs `workloads/spin.py` under `continue` (what `c` sends), then `interrupt` (what Ctrl+C
sends) is sent; the figure is the time until the pause's Step arrives in this process. Two cases: a Python
loop (the next line pauses), and a long torch call (`a @ a`, ~0.1-0.3 s: the pause comes as soon as Python
code runs again, so this one is bounded by the call).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def once(case: str) -> float:
    """Seconds from `interrupt` to the pause's Step, for one fresh engine."""
    from tensorscope.engine.process import spec_for, take_engine
    from tensorscope.engine.target import ScriptTarget

    steps: list[object] = []
    engine = take_engine()
    argv = ["matmul"] if case == "torch call" else []
    engine.begin(spec_for(ScriptTarget.load(str(HERE / "workloads" / "spin.py"), argv), "interactive"),
                 on_step=steps.append)
    try:
        while not steps:
            engine.join(0.005)
        engine.send("continue")
        time.sleep(0.5)  # well inside the loop (or the call)
        asked = time.perf_counter()
        engine.send("interrupt")
        while len(steps) < 2:
            if engine.finished:
                raise RuntimeError("the script ended instead of pausing")
            engine.join(0.001)
        return time.perf_counter() - asked
    finally:
        engine.kill()
        engine.join(10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    result: dict[str, object] = {}
    for case in ("python loop", "torch call"):
        ms = [once(case) * 1000 for _ in range(args.rounds)]
        key = case.replace(" ", "_")
        result[f"{key}_median_ms"] = round(statistics.median(ms), 1)
        result[f"{key}_max_ms"] = round(max(ms), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
