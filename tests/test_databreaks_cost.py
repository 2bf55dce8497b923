"""Data breakpoints (#16 item 4): what the detector's cheap path costs and what it relies on."""

from __future__ import annotations

import sys
import time

import pytest
import torch

from tensorscope.engine import databreaks
from tensorscope.engine.databreaks import DataBreaks
from tensorscope.engine.stopon import parse_all
from tensorscope.model import PauseReason


def test_the_writes_that_bump_no_version_are_real() -> None:
    """What the detector's probe and `.data` rule are for (claims of engine/databreaks.py's docstring)."""
    import numpy as np

    t = torch.zeros(3)
    t.data += 1
    t.data[0] = 5
    a = np.zeros(3, dtype=np.float32)
    s = torch.from_numpy(a)
    a[:] = 2
    assert (t._version, s._version) == (0, 0) and t.tolist() == [5, 1, 1] and s.tolist() == [2, 2, 2]
    t.add_(1)
    assert t._version == 1
    with torch.inference_mode():
        i = torch.zeros(2)
        i.add_(1)
    with pytest.raises(RuntimeError):
        _ = i._version  # an inference tensor has no version counter


def test_cost_per_line_for_a_1000x1000_tensor(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Measured, printed, not asserted as timing; asserted: the CRC runs only when something changed."""
    sums: list[int] = []
    real = databreaks.fingerprint

    def counting(t: torch.Tensor, limit: int) -> int | None:
        sums.append(t.numel())
        return real(t, limit)

    monkeypatch.setattr(databreaks, "fingerprint", counting)
    w = torch.randn(1000, 1000)
    frame = sys._getframe()
    costs = {}
    for spec in ("change:w", "grad:w", "nan"):
        db = DataBreaks(parse_all([spec]))
        db.check(frame, [])
        sums.clear()
        n = 2000
        start = time.perf_counter()
        for _ in range(n):
            assert db.check(frame, []) is None
        costs[spec] = (time.perf_counter() - start) / n * 1e6
        assert sums == []  # unchanged: no CRC
    db = DataBreaks(parse_all(["change:w"]))
    db.check(frame, [])
    sums.clear()
    w.add_(1)
    start = time.perf_counter()
    assert db.check(frame, []) == PauseReason("changed", "w", "values")
    changed = (time.perf_counter() - start) * 1e6
    assert sums == [1_000_000]
    with capsys.disabled():
        print("\ndata breakpoint cost per line, 1000x1000 float32: unchanged "
              + ", ".join(f"{k} {v:.1f} µs" for k, v in costs.items()) + f"; changed (CRC) {changed:.0f} µs")
