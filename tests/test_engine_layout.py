"""The engine's modules stay small (#17: no file over 500 lines), and splitting them kept every public name
importable from where the CLI, the TUI, the checks and the tests import it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "tensorscope" / "engine"


def test_no_engine_module_over_500_lines() -> None:
    """Every module of the engine (the simulated CUDA included) stays under 500 lines."""
    sizes = {p.relative_to(ENGINE).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in ENGINE.rglob("*.py")}
    long = {name: n for name, n in sizes.items() if n > 500}
    assert long == {}


@pytest.mark.parametrize(("module", "names"), [
    ("tensorscope.engine.session", ["Session", "COMMANDS", "Command", "INTERNAL_ERRORS"]),
    ("tensorscope.engine.process", ["EngineProcess", "RunResult", "RunSpec", "Mode", "STOP_GRACE",
                                    "run_headless", "spec_for", "take_engine", "warm_up", "release_spare"]),
    ("tensorscope.engine.instrument", ["BackwardCall", "Instrument", "Subscriber", "LineCheck",
                                       "LOSS_NAMES", "REPLACEMENTS", "call_as", "caller_of_op",
                                       "is_disguise", "static_value", "with_instrument"]),
])
def test_public_names_stay_where_callers_import_them(module: str, names: list[str]) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in names if not hasattr(mod, n)]
    assert missing == []
    assert set(names) <= set(mod.__all__)  # (re-exported on purpose: ruff keeps them)


def test_a_moved_name_is_one_object_wherever_it_is_imported_from() -> None:
    from tensorscope.engine import backward, disguise, instrument, process, protocol, replacements, static

    assert instrument.BackwardCall is backward.BackwardCall
    assert instrument.REPLACEMENTS is replacements.REPLACEMENTS
    assert instrument.call_as is disguise.call_as and instrument.static_value is static.static_value
    assert process.RunSpec is protocol.RunSpec and process.spec_for is protocol.spec_for


def test_the_session_is_made_of_its_parts() -> None:
    """One Session class, its parts one idea per module (pausing, running, events, raising, steps,
    evaluating)."""
    from tensorscope.engine.session import Session

    parts = {cls.__module__.rsplit(".", 1)[1] for cls in Session.__mro__[1:-1]}
    assert parts == {"pausing", "running", "events", "raising", "steps", "evaluating"}
