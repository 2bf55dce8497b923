"""Shared fixtures: write small scripts to a temporary folder."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.hookimpl(optionalhook=True)  # (a pytest-xdist hook)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than this machine's cores. Part of many tests is waiting on a child process
    (a script that sleeps, a timeout running out, an engine starting): a spare worker runs tests meanwhile."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1



FIRST = ("realworld", "pitfall-variants", "scenarios", "test_benchmarks_check_rows.py")
"""The longest pieces of work (a module fixture that runs a corpus, the benchmark run): started first, so
that under `-n` the other workers fill the time they take instead of waiting on them at the end."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the tests of FIRST at the front (in their order; a stable sort keeps every other order)."""

    def rank(item: pytest.Item) -> int:
        group = item.get_closest_marker("xdist_group")
        names = (group.args[0] if group and group.args else "", item.path.name)
        return next((i for i, first in enumerate(FIRST) if first in names), len(FIRST))

    items.sort(key=rank)

@pytest.fixture
def write_script(tmp_path: Path) -> Callable[..., Path]:
    """Write a dedented script into tmp_path and return its path."""

    def write(source: str, name: str = "script.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture(autouse=True)
def no_internal_errors() -> Iterator[None]:
    """Fail any test during which tensorscope recorded an error inside itself (here or in an engine child)."""
    engine = sys.modules.get("tensorscope.engine.errors")
    before = len(engine.INTERNAL_ERRORS) if engine is not None else 0
    yield
    engine = sys.modules.get("tensorscope.engine.errors")
    if engine is None:
        return
    new = engine.INTERNAL_ERRORS[before:]
    del engine.INTERNAL_ERRORS[before:]
    if new:
        pytest.fail("tensorscope recorded internal errors:\n" + "\n\n".join(new), pytrace=False)
