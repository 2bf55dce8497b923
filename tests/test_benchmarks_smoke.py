"""The benchmark command runs and reports (a tiny size: this checks the tooling, it times nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_benchmark_command_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--only", "memory", "--scale", "0.002",
         "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "memory of a 200-step history" in proc.stdout
    assert "budget" in proc.stdout.splitlines()[0]
    data = json.loads(out.read_text())
    row = data["results"][0]
    assert row["status"] == "ok" and row["steps"] == 200
    assert data["machine"]["python"] == ".".join(map(str, sys.version_info[:3]))
