"""The suite's layout on pytest-xdist's workers: the modules whose module fixture makes expensive runs (a
corpus, every scenario) are each one xdist group, and `-n` schedules by group (pyproject's addopts), so each
such fixture runs once per test run, on one worker, and the groups start first."""

from __future__ import annotations

import importlib

import pytest

GROUPED = {
    "test_realworld": "realworld",
    "test_pitfall_variants": "pitfall-variants",
    "test_scenarios": "scenarios",
}


def test_workers_schedule_by_group(pytestconfig: pytest.Config) -> None:
    assert "--dist=loadgroup" in pytestconfig.getini("addopts")
    assert pytestconfig.getoption("dist") in ("loadgroup", "no")  # "no": run without -n


@pytest.mark.parametrize("module", sorted(GROUPED))
def test_an_expensive_module_is_one_group(module: str) -> None:
    marks = importlib.import_module(module).pytestmark
    marks = marks if isinstance(marks, list) else [marks]
    groups = [m.args[0] for m in marks if m.name == "xdist_group"]
    assert groups == [GROUPED[module]]
