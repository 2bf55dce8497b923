"""What a Step costs on the pipe: `python benchmarks/encoding.py [--rounds 300]`, prints JSON.

A headless Session records workloads/scope50.py (50 tensors in scope); its largest Step is encoded and
decoded with pickle (what the engine process sends) and through the JSON model (`trace --json`).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def encode_costs(step: object, rounds: int) -> dict[str, float]:
    """Microseconds to encode and decode `step` with pickle and with the JSON model, and the sizes."""
    from tensorscope.model import Step, _from_json, _to_json

    costs: dict[str, float] = {}
    t = time.perf_counter()
    for _ in range(rounds):
        pickle.loads(pickle.dumps(step, protocol=pickle.HIGHEST_PROTOCOL))
    costs["pickle_us"] = (time.perf_counter() - t) / rounds * 1e6
    t = time.perf_counter()
    for _ in range(rounds):
        _from_json(Step, json.loads(json.dumps(_to_json(step))))
    costs["json_us"] = (time.perf_counter() - t) / rounds * 1e6
    costs["pickle_bytes"] = len(pickle.dumps(step, protocol=pickle.HIGHEST_PROTOCOL))
    costs["json_bytes"] = len(json.dumps(_to_json(step)))
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    from tensorscope.engine import Session

    session = Session(str(HERE / "workloads" / "scope50.py"), ["2"], keep_steps=True)
    trace = session.record()
    step = max(trace.steps, key=lambda s: len(s.tensors))
    result = {"tensors": len(step.tensors), **encode_costs(step, args.rounds)}
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
