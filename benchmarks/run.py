"""Run every tensorscope benchmark, print a table, write JSON: `python benchmarks/run.py [--quick] [-o FILE]`.

Overheads compare `python SCRIPT` with `python -m tensorscope check SCRIPT` and with the peers (PyTorch's
anomaly mode, a bdb debugger with one breakpoint, TorchSnooper), side by side in interleaved rounds so
that a noisy, shared machine slows the baseline and the tools alike. Each workload times its own
training loop (CPU time of the whole process and wall time, from just before the loop to just after it:
startup and torch's import excluded) with one torch thread; each ratio is the median of the tool over
the median of plain python, measured in the same run. Loop CPU time is the headline.
The TUI, first-frame and memory figures come from the small drivers next to this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = HERE / "workloads"
PEERS = HERE / "peers"
ITEMS = ("mlp", "line_heavy", "adder", "inplace_helper", "total_loss", "keypress", "interrupt", "first_frame",
         "memory")
MONITORING = sys.version_info >= (3, 12)
BUDGETS = {
    "mlp": 1.15 if MONITORING else 1.3,
    "line_heavy": 1.5 if MONITORING else 3.0,
    "adder": 2.0,  # the checks on real code: each case within 2x of python
    "inplace_helper": 2.0,
    "total_loss": 2.0,
    "keypress_ms": 50.0,
    "interrupt_ms": 200.0,
    "first_frame_s": 0.7,
    "memory_mb": 200.0,
}
"""`check`'s loop CPU time over python's (sys.monitoring on 3.12+, sys.settrace on 3.11) and the TUI's."""
NO_CHECKS = "engine, no checks"
"""`check`'s engine child with an empty list of checks (`peers/no_checks.py`): what the checks cost is the
ratio of `check` over it (`x engine` in the table)."""
LOOP_FILE = "TENSORSCOPE_BENCH_LOOP"
"""The workloads write their loop's CPU and wall seconds into the file this variable names."""


@dataclass
class Timing:
    """Seconds of each run of one command: its loop's CPU and wall time, the whole process's wall time."""

    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    process_wall: list[float] = field(default_factory=list)
    status: str = "ok"

    def median_wall(self) -> float:
        return statistics.median(self.wall)

    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(wall s, CPU s of the child, exit status, stderr tail) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, proc.stderr[-2000:]


def timed_loop(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    """(loop CPU s, loop wall s, process wall s, exit status, stderr tail) of one workload process."""
    fd, path = tempfile.mkstemp(prefix="tensorscope-bench-", suffix=".txt")
    os.close(fd)
    try:
        wall, _, code, err = timed(cmd, {**env, LOOP_FILE: path})
        text = Path(path).read_text().split()
    finally:
        os.unlink(path)
    if code == 0 and len(text) != 2:
        return 0.0, 0.0, wall, -1, f"the workload wrote no loop time into ${LOOP_FILE}\n{err}"
    cpu, loop_wall = (float(v) for v in text) if text else (0.0, 0.0)
    return cpu, loop_wall, wall, code, err


def interleaved(commands: dict[str, list[str]], reps: int, env: dict[str, str],
                ok_codes: dict[str, set[int]]) -> dict[str, Timing]:
    """Run each command `reps` times, one of each per round, rotating the order every round."""
    names = list(commands)
    out = {name: Timing() for name in names}
    for r in range(reps):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            if out[name].status != "ok":
                continue
            cpu, wall, process_wall, code, err = timed_loop(commands[name], env)
            if code == 3 and name.startswith("torchsnooper"):
                out[name].status = "not installed"
                continue
            if code not in ok_codes.get(name, {0}):
                last = err.strip().splitlines()[-1] if err.strip() else ""
                out[name].status = f"failed (exit {code}): {last}"
                continue
            out[name].cpu.append(cpu)
            out[name].wall.append(wall)
            out[name].process_wall.append(process_wall)
        print(f"  round {r + 1}/{reps} done", file=sys.stderr)
    return out


def overheads(workload: str, steps: int, reps: int, env: dict[str, str], simulate_cuda: bool,
              peers: bool, snooper_python: str) -> list[dict[str, object]]:
    """Rows for one workload: tensorscope check (and --simulate-cuda) and the peers, against plain python."""
    py = sys.executable
    script = str(WORKLOADS / f"{workload}.py")
    args = [str(steps)]
    commands = {
        "python": [py, script, *args],
        "tensorscope check": [py, "-m", "tensorscope", "check", script, "--", *args],
    }
    if simulate_cuda:
        commands["tensorscope check --simulate-cuda"] = [
            py, "-m", "tensorscope", "check", "--simulate-cuda", script, "--", *args]
    commands["tensorscope check --every-pass"] = [  # every pass of the loop observed: no budget
        py, "-m", "tensorscope", "check", "--every-pass", script, "--", *args]
    commands[NO_CHECKS] = [py, str(PEERS / "no_checks.py"), script, *args]  # the engine's own cost
    commands[f"{NO_CHECKS} --every-pass"] = [py, str(PEERS / "no_checks.py"), "--every-pass", script, *args]
    if peers:
        commands["anomaly mode"] = [py, str(PEERS / "anomaly.py"), script, *args]
        commands["bdb, 1 breakpoint"] = [py, str(PEERS / "bdb_break.py"), script, *args]
        commands["torchsnooper"] = [snooper_python, str(PEERS / "snooper.py"), script, *args]
    print(f"{workload}: {len(commands)} commands x {reps} rounds", file=sys.stderr)
    flagged_ok = {name: {0, 1} for name in commands if name.startswith("tensorscope")}  # 1: a flag was raised
    times = interleaved(commands, reps, env, flagged_ok)
    base = times["python"]
    rows = []
    for name, t in times.items():
        row: dict[str, object] = {"item": f"{name} on {workload} ({steps} steps)", "tool": name,
                                  "workload": workload, "steps": steps, "status": t.status}
        if t.status == "ok" and t.cpu and base.cpu:
            row.update(
                loop_cpu_s=round(t.median_cpu(), 3), loop_wall_s=round(t.median_wall(), 3),
                cpu_ratio=round(t.median_cpu() / base.median_cpu(), 2),
                ratio=round(t.median_wall() / base.median_wall(), 2),
                runs_loop_cpu_s=[round(c, 3) for c in t.cpu],
                process_wall_s=round(statistics.median(t.process_wall), 2),
            )
            if name.startswith("tensorscope check") and name != "tensorscope check --every-pass":
                row["budget"] = BUDGETS[workload]
            engine = times.get(f"{NO_CHECKS} --every-pass" if name.endswith("--every-pass") else NO_CHECKS)
            if name.startswith("tensorscope check") and engine and engine.status == "ok" and engine.cpu:
                row["cpu_ratio_over_engine"] = round(t.median_cpu() / engine.median_cpu(), 2)
        rows.append(row)
    return rows


def driver(args: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run one of the JSON-printing drivers; its result, or a status saying why there is none."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return {"status": f"failed: {tail[0]}"}
    result: dict[str, object] = json.loads(lines[-1])
    result["status"] = "ok"
    return result


def keypress(presses: int, env: dict[str, str]) -> list[dict[str, object]]:
    """50 tensors in scope; a model of 200 parameter tensors (grouped, as the pane opens it), and the
    same with every module group open (not budgeted: the user's choice)."""
    print(f"keypress: {presses} presses", file=sys.stderr)
    rows = []
    for args, what, budget in (([], "{n} tensors", True),
                               (["--workload", "model200"], "200 params, grouped", True),
                               (["--workload", "model200", "--open-groups"], "200 params, all open", False)):
        r = driver([str(HERE / "tui_keypress.py"), "--presses", str(presses), *args], env)
        r.update(item=f"TUI key press -> updated panes ({what.format(n=r.get('tensors_in_scope', '?'))})")
        if budget:
            r["budget"] = BUDGETS["keypress_ms"]
        rows.append(r)
    return rows


def interrupt(rounds: int, env: dict[str, str]) -> list[dict[str, object]]:
    """Ctrl+C while `c` runs a Python loop (budgeted), and while a long torch call runs (not budgeted)."""
    print(f"interrupt: {rounds} rounds", file=sys.stderr)
    r = driver([str(HERE / "interrupt.py"), "--rounds", str(rounds)], env)
    r.update(item="Ctrl+C -> paused at the next line (Python loop)", budget=BUDGETS["interrupt_ms"])
    if r.get("status") == "ok":
        r["interrupt_ms"] = r.get("python_loop_median_ms")
    return [r]


def first_frame(reps: int, env: dict[str, str]) -> list[dict[str, object]]:
    """`tensorscope run linreg` to its first Step on screen, against `python -c "import torch"`."""
    print(f"first_frame: {reps} rounds", file=sys.stderr)
    ours: list[float] = []
    ours_cpu: list[float] = []
    torch_only: list[float] = []
    torch_cpu: list[float] = []
    status = "ok"
    for _ in range(reps):
        wall, cpu, code, err = timed([sys.executable, "-c", "import torch"], env)
        torch_only.append(wall)
        torch_cpu.append(cpu)
        r = driver([str(HERE / "first_frame.py"), repr(time.time()), "linreg"], env)
        if r.get("status") != "ok" or r.get("first_frame_s") is None:
            status = str(r.get("status"))
            break
        ours.append(float(r["first_frame_s"]))  # type: ignore[arg-type]
        ours_cpu.append(float(r["cpu_s"]))  # type: ignore[arg-type]
    row: dict[str, object] = {"item": "start to first frame (tensorscope run linreg)", "status": status,
                              "budget": BUDGETS["first_frame_s"]}
    if ours:
        row.update(first_frame_s=round(statistics.median(ours), 2),
                   import_torch_s=round(statistics.median(torch_only), 2),
                   extra_s=round(statistics.median(ours) - statistics.median(torch_only), 2),
                   extra_cpu_s=round(statistics.median(ours_cpu) - statistics.median(torch_cpu), 2))
    return [row]


def memory(steps: int, env: dict[str, str]) -> list[dict[str, object]]:
    print(f"memory: {steps} steps", file=sys.stderr)
    r = driver([str(HERE / "memory.py"), "--steps", str(steps)], env)
    r.update(item=f"memory of a {steps}-step history", budget=BUDGETS["memory_mb"])
    if steps != 100_000 and isinstance(r.get("session_mb"), int | float):
        r["per_100k_steps_mb"] = round(float(r["session_mb"]) * 100_000 / steps, 1)  # type: ignore[arg-type]
    return [r]


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
        threads = torch.get_num_threads()
    except ImportError:
        torch_version, threads = "not installed", 0
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = -1.0
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "torch": torch_version, "torch_threads": threads, "load_at_start": round(load, 2),
            "platform": platform.platform()}


def verdict(row: dict[str, object]) -> str:
    """`holds`, `holds on CPU` (wall time over, CPU time within: a busy machine), or `OVER`."""
    budget = row.get("budget")
    if row.get("status") != "ok" or budget is None:
        return ""
    if isinstance(row.get("cpu_ratio"), int | float):  # the loop's CPU time is the figure that counts
        return "holds" if float(row["cpu_ratio"]) <= float(budget) else "OVER"  # type: ignore[arg-type]
    pairs = (("median_ms", "cpu_median_ms"), ("interrupt_ms", None), ("extra_s", "extra_cpu_s"),
             ("per_100k_steps_mb", None), ("session_mb", None))
    for wall_key, cpu_key in pairs:
        wall = row.get(wall_key)
        if isinstance(wall, int | float):
            cpu = row.get(cpu_key) if cpu_key else None
            if wall <= float(budget):  # type: ignore[arg-type]
                return "holds"
            if isinstance(cpu, int | float) and cpu <= float(budget):  # type: ignore[arg-type]
                return "holds on CPU"
            return "OVER"
    return ""


def table(rows: list[dict[str, object]]) -> str:
    out = [f"{'benchmark':<58} {'result':>44} {'budget':>8}  verdict"]
    for row in rows:
        status = row.get("status")
        if status != "ok":
            result = str(status)
        elif "ratio" in row:
            result = f"cpu {row['cpu_ratio']:.2f}x (wall {row['ratio']:.2f}x)"
            if "cpu_ratio_over_engine" in row:
                result += f", {row['cpu_ratio_over_engine']:.2f}x engine"
        elif "median_ms" in row:
            result = f"{row['median_ms']}, p95 {row['p95_ms']} (cpu {row['cpu_median_ms']})"
        elif "interrupt_ms" in row:
            result = (f"{row['interrupt_ms']}, max {row.get('python_loop_max_ms')} "
                      f"(torch call {row.get('torch_call_median_ms')})")
        elif "extra_s" in row:
            result = f"+{row['extra_s']} s (cpu +{row.get('extra_cpu_s', '?')} s)"
        elif "session_mb" in row:
            per = f", {row['per_100k_steps_mb']}/100k" if "per_100k_steps_mb" in row else ""
            result = f"{row['session_mb']} MB{per} (TUI +{row.get('history_mb')} MB)"
        else:
            result = "?"
        budget = row.get("budget")
        unit = ("x" if "ratio" in row else " ms" if "median_ms" in row or "interrupt_ms" in row
                else " s" if "extra_s" in row else " MB")
        shown = f"{budget}{unit}" if budget is not None else ""
        out.append(f"{str(row['item'])[:58]:<58} {result[:44]:>44} {shown:>8}  {verdict(row)}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds (a few minutes)")
    parser.add_argument("--reps", type=int, help="rounds per overhead (default 5; 3 with --quick)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every step count")
    parser.add_argument("--only", default=",".join(ITEMS), help=f"some of: {', '.join(ITEMS)}")
    parser.add_argument("--no-peers", action="store_true", help="skip anomaly mode, bdb and TorchSnooper")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (OMP_NUM_THREADS) per process; 0: torch's own choice (default 1)")
    parser.add_argument("--snooper-python", default=sys.executable, metavar="PYTHON",
                        help="the interpreter for TorchSnooper (one with torchsnooper and the same torch)")
    parser.add_argument("-o", "--output", help="write the results as JSON here")
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(ITEMS)
    if unknown:
        parser.error(f"unknown item(s) {', '.join(sorted(unknown))}; choose from {', '.join(ITEMS)}")
    reps = args.reps or (3 if args.quick else 5)
    scale = args.scale * (0.25 if args.quick else 1.0)

    def steps(n: int) -> int:
        return max(1, round(n * scale))

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if args.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    peers, snoop = not args.no_peers, args.snooper_python
    started = time.time()
    rows: list[dict[str, object]] = []
    plan: list[tuple[str, Callable[[], list[dict[str, object]]]]] = [
        ("mlp", lambda: overheads("mlp", steps(1000), reps, env, True, peers, snoop)),
        ("line_heavy", lambda: overheads("line_heavy", steps(3000), reps, env, False, peers, snoop)),
        # the checks on real code, without the peers (their figures are the two workloads above)
        ("adder", lambda: overheads("adder", steps(300), reps, env, False, False, snoop)),
        ("inplace_helper", lambda: overheads("inplace_helper", steps(5000), reps, env, False, False, snoop)),
        ("total_loss", lambda: overheads("total_loss", steps(3000), reps, env, False, False, snoop)),
        ("keypress", lambda: keypress(max(5, steps(40)), env)),
        ("interrupt", lambda: interrupt(max(3, steps(10)), env)),
        ("first_frame", lambda: first_frame(reps, env)),
        ("memory", lambda: memory(steps(100_000), env)),
    ]
    for name, run in plan:
        if name in only:
            rows.extend(run())
    info = machine()
    info["seconds"] = round(time.time() - started)
    info["threads_env"] = args.threads
    print(table(rows))
    print(f"\n{info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, torch {info['torch']}, "
          f"{args.threads or 'default'} torch thread(s), load {info['load_at_start']} at start, "
          f"{info['seconds']} s")
    if args.output:
        Path(args.output).write_text(json.dumps({"machine": info, "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
