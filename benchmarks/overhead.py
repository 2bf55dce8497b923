"""Measure `tensorscope check` against plain python on the benchmark workloads.

Run: .venv/bin/python benchmarks/overhead.py [--repeat 3] [--json results.json]
Each figure is the median wall time of whole processes (torch import included in both), and the ratio
tensorscope / plain python measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = {
    "mlp": (HERE / "workloads" / "mlp.py", ["1000"]),
    "line_heavy": (HERE / "workloads" / "line_heavy.py", ["3000"]),
}


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--extra", nargs="*", default=[],
                        help="extra tensorscope options, e.g. --simulate-cuda")
    args = parser.parse_args()
    rows = []
    for name, (script, wargs) in WORKLOADS.items():
        plain = [sys.executable, str(script), *wargs]
        scoped = [sys.executable, "-m", "tensorscope", "check", *args.extra, str(script), "--", *wargs]
        base = statistics.median(timed(plain) for _ in range(args.repeat))
        ours = statistics.median(timed(scoped) for _ in range(args.repeat))
        rows.append({"workload": name, "python_s": round(base, 3), "tensorscope_s": round(ours, 3),
                     "ratio": round(ours / base, 2)})
    print(f"{'workload':<12} {'python s':>9} {'check s':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['workload']:<12} {r['python_s']:>9.2f} {r['tensorscope_s']:>9.2f} {r['ratio']:>5.2f}x")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
