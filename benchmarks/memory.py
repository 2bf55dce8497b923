"""Memory of a long history: `python benchmarks/memory.py [--steps 100000]`, prints JSON.

A headless Session records STEPS Steps of workloads/tiny.py (every check on, as `tensorscope trace`
runs); the figure is the growth of this process's resident memory, measured after a garbage collection.
Then the same Steps go into the TUI's History, and its own growth is measured the same way.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    import torch  # noqa: F401 - loaded before the first reading, as it is for any script

    from tensorscope.checks import default_checks
    from tensorscope.engine import Session

    script = str(HERE / "workloads" / "tiny.py")
    warm = Session(script, ["10"], monitors=default_checks(), keep_steps=True)
    warm.record()  # imports and first-use caches, so the reading below is the history alone
    del warm
    before = rss_mb()
    t = time.perf_counter()
    session = Session(script, [str(args.steps)], monitors=default_checks(), max_steps=args.steps)
    trace = session.record()
    seconds = time.perf_counter() - t
    after = rss_mb()
    result: dict[str, object] = {
        "steps": len(trace.steps),
        "session_mb": round(after - before, 1),
        "record_s": round(seconds, 1),
    }
    try:
        from tensorscope.tui.history import History
    except ImportError:
        result["history_mb"] = None
    else:
        history = History()
        for step in trace.steps:
            history.append(step)
            history.go_last()
        result["history_mb"] = round(rss_mb() - after, 1)
        result["history_kept"] = len(history)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
