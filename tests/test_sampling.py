"""`check` observes a loop's first passes, then one in a few: what runs unobserved, and what never does."""

from __future__ import annotations

import sys
import textwrap

import pytest

from tensorscope.checks import default_checks
from tensorscope.engine.sampling import EVERY, FULL_PASSES, loops_in
from tensorscope.engine.session import Session
from tensorscope.model import Flag

pytestmark = pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")

PASSES = FULL_PASSES + 3 * EVERY + 7
"""Enough passes for several unobserved stretches and sampled passes."""


def _check(path, every_pass: bool = False) -> tuple[Session, list[Flag]]:
    session = Session(str(path), monitors=default_checks(), keep_steps=False)
    trace = session.run(every_pass=every_pass)
    assert session.internal_errors == []
    return session, list(trace.flags)


def _lines(flags: list[Flag], code: str) -> list[int]:
    return sorted(f.line for f in flags if f.code == code)


def test_loops_in_finds_for_and_while_bodies():
    source = textwrap.dedent("""\
        i = 0
        while i < 3:
            i += 1
        for a in range(2):
            for b in range(2):
                c = [x for x in range(b)]
            d = a
        while i < 9: i += 1
        e = [y for y in range(3)]
        """)
    loops = loops_in(source)
    assert loops == {2: frozenset({2, 3}), 4: frozenset({4, 5, 6, 7}), 5: frozenset({5, 6})}


def test_loops_in_survives_a_syntax_error():
    assert loops_in("for x in (:\n    pass\n") == {}


def test_long_loop_runs_mostly_unobserved_and_prints_the_same(write_script):
    path = write_script(f"""
        total = 0
        for i in range({PASSES}):
            total += i
        print(total)
        """)
    session, _ = _check(path)
    assert session.trace is not None and session.trace.stdout == f"{sum(range(PASSES))}\n"
    sampled = (PASSES - FULL_PASSES) // EVERY
    assert session.unobserved_passes >= PASSES - FULL_PASSES - sampled - 2
    session, _ = _check(path, every_pass=True)
    assert session.unobserved_passes == 0


def test_breakpoints_and_stop_on_flags_need_every_line(write_script):
    path = write_script(f"""
        for i in range({PASSES}):
            x = i
        """)
    session = Session(str(path), breakpoints=[99])
    session.run()
    assert session.unobserved_passes == 0
    session = Session(str(path), stop_on_flags=True)
    session.run()
    assert session.unobserved_passes == 0


def test_what_follows_the_loop_is_observed(write_script):
    """A mistake after a long loop is flagged at its line, even in a function the loop called."""
    path = write_script(f"""
        import torch

        def probe(t):
            g = t.grad
            return g

        w = torch.ones(2, requires_grad=True)
        for i in range({PASSES}):
            probe(w)
        y = w * 2
        probe(y)
        """)
    _, flags = _check(path)
    assert _lines(flags, "non-leaf-grad") == [4]


def test_an_exception_in_an_unobserved_pass_is_seen_with_what_follows_it(write_script):
    late = FULL_PASSES + EVERY + 5
    assert late % EVERY != 0  # a pass that runs unobserved
    path = write_script(f"""
        import torch

        w = torch.ones(2, requires_grad=True)
        y = w * 2
        for i in range({PASSES}):
            try:
                if i == {late}:
                    raise ValueError(i)
            except ValueError:
                g = y.grad
        """)
    _, flags = _check(path)
    assert _lines(flags, "non-leaf-grad") == [10]


def test_nan_appearing_late_in_a_long_loop_is_flagged(write_script):
    late = FULL_PASSES + EVERY + 5
    path = write_script(f"""
        import torch

        w = torch.ones(3)
        for i in range({PASSES}):
            if i == {late}:
                w = w * float("nan")
            out = w + 1
        """)
    _, flags = _check(path)
    assert 7 in _lines(flags, "nan-inf")


def test_forgotten_zero_grad_in_a_long_loop_is_flagged_once(write_script):
    path = write_script(f"""
        import torch

        w = torch.ones(2, requires_grad=True)
        opt = torch.optim.SGD([w], lr=0.0)
        for i in range({PASSES}):
            loss = (w * 2).sum()
            loss.backward()
            opt.step()
        """)
    _, flags = _check(path)
    assert _lines(flags, "grad-accumulation") == [7]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring switches single events off")
def test_unobserved_lines_cost_no_events(write_script):
    """On 3.12+ the lines of an unobserved pass report no event at all (they were switched off)."""
    path = write_script(f"""
        for i in range({PASSES}):
            a = i
            b = a
        """)
    session = Session(str(path), monitors=[], keep_steps=False)
    seen: list[int] = []
    line = session.line

    def counting(frame, n, back_jump):
        seen.append(n)
        return line(frame, n, back_jump)

    session.line = counting  # type: ignore[method-assign]
    session.run()
    body = seen.count(2)
    observed = PASSES - session.unobserved_passes
    stretches = 2 + (PASSES - FULL_PASSES) // EVERY  # each stretch's first pass reports a line once
    assert body <= observed + stretches
    assert body < PASSES // 2
    assert seen.count(1) >= PASSES  # the header counts every pass


def test_a_branch_taken_every_hundredth_pass_is_observed(write_script):
    """A logging line that keeps the graph (`history.append(loss)`) runs in no sampled pass: its own first
    runs are observed all the same."""
    path = write_script("""
        import torch

        w = torch.ones(2, requires_grad=True)
        history = []
        for i in range(400):
            loss = (w * 2).sum()
            loss.backward()
            w.grad = None
            if i % 100 == 99:
                history.append(loss)
        """)
    session, flags = _check(path)
    assert session.unobserved_passes > 300
    assert _lines(flags, "graph-retained") == [10]
    _, every = _check(path, every_pass=True)
    assert _lines(every, "graph-retained") == [10]


@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason="on 3.11 the functions an unobserved pass calls run untraced")
def test_a_rare_branch_inside_a_called_function_is_observed(write_script):
    path = write_script("""
        import torch

        history = []

        def log(i, loss):
            if i % 100 == 99:
                history.append(loss)

        w = torch.ones(2, requires_grad=True)
        for i in range(400):
            loss = (w * 2).sum()
            loss.backward()
            w.grad = None
            log(i, loss)
        """)
    _, flags = _check(path)
    assert _lines(flags, "graph-retained") == [7]


@pytest.mark.parametrize("passes", [60, 300])
def test_divergence_in_unobserved_passes_is_flagged_where_every_pass_flags_it(write_script, passes):
    """Too high a learning rate: the loss turns Inf then NaN after the first observed passes. The names are
    checked again when observation resumes (a sampled pass, the loop's end), at the lines binding them."""
    path = write_script(f"""
        import torch
        x = torch.linspace(0, 10, 8)
        y = 2 * x + 1
        w = torch.zeros(1, requires_grad=True)
        for step in range({passes}):
            loss = ((x * w - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 1.0 * w.grad
                w.grad.zero_()
        """)
    session, sampled = _check(path)
    assert session.unobserved_passes > 0
    _, every = _check(path, every_pass=True)

    def names(flags: list[Flag]) -> dict[str, int]:
        return {f.tensors[0]: f.line for f in flags if f.code == "nan-inf"}

    expected = {"loss": 6, "w": 9, "w.grad": 7}  # (w.grad: when a backward() is checked while it is NaN)
    for found in (names(sampled), names(every)):
        assert {"loss", "w"} <= found.keys()
        assert all(expected[name] == line for name, line in found.items())
