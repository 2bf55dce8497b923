"""The benchmark command runs the checks' real-code workloads (a `total += loss` loop, an in-place helper,
a minGPT-like adder) against python and the bare engine (a tiny size: this checks the tooling, it times
nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_total_loss_rows_compare_check_with_python_and_the_engine_without_checks(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--only", "total_loss", "--scale", "0.01",
         "--reps", "1", "-o", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {row["tool"]: row for row in json.loads(out.read_text())["results"]}
    assert set(rows) == {"python", "tensorscope check", "tensorscope check --every-pass", "engine, no checks",
                         "engine, no checks --every-pass"}
    assert all(row["status"] == "ok" and row["steps"] == 30 for row in rows.values())
    check = rows["tensorscope check"]
    assert check["budget"] == 2.0 and check["cpu_ratio_over_engine"] > 0
    assert "budget" not in rows["tensorscope check --every-pass"]
    assert rows["tensorscope check --every-pass"]["cpu_ratio_over_engine"] > 0
    assert "x engine" in proc.stdout
