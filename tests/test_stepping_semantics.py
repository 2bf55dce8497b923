"""Stepping is the same on every Python: `tensorscope trace` of corpus scripts pauses at the same steps.

The expected pauses are written out below, one string per script: a space-separated token per Step,
`LINE` plus `r` for a return, `x` for the exception that ended the script and `e` for the end, with
`@FUNCTION` whenever the function changes. They follow the stepping rules on every version: a
comprehension (and a generator expression, a lambda) is one step; a statement spanning several lines is
one step at its first line, whatever lines its bytecode visits; a decorated definition (def or class) is
one statement from its first decorator line on, so it is one step there, and its decorators and class
body step in as calls; a call into the user's code steps into it and the rest of the calling statement
is not a new step; generators, `with` exits and exceptions pause alike. Most were recorded on 3.11;
`multiline` and `decorators` are written from the rules. Where tensorscope pauses elsewhere today the
case is in KNOWN, an xfail(strict=True), so it fails once fixed and its entry must be removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_runs import corpus_folder, corpus_trace

from tensorscope.model import Step, Trace

_EVENT = {"line": "", "return": "r", "exception": "x", "end": "e"}

EXPECTED = {
    "comprehensions": (
        "1@<module> 2 5 12 13 14 15 16 17 18 19 20 21 22 23 6@scope_copy 7 8 9 9r 24@<module> 24e"
    ),
    "generators": (
        "1@<module> 2 5 12 17 25 26 6@counter 7 7r 8 9 6 7 7r 8 6 7 7r 27@<module> 13@chain 13r 13r 14 "
        "14r 14r 14r 28@<module> 29 18@closing 19 19r 30@<module> 22@closing 31@<module> 32 33 34 34e"
    ),
    "closures": (
        "1@<module> 2 5 16 20 6@make_counter 8 13 13r 21@<module> 10@bump 11 11r 22@<module> 10@bump 11 "
        "11r 23@<module> 10@bump 11 11r 24@<module> 17@make_scaler 17r 25@<module> 26 27 28 29 30 31 31e"
    ),
    "context_managers": (
        "1@<module> 2 4 7 7@Tag 8 11 15 15r 20@<module> 9@__init__ 9r 12@__enter__ 13 13r 9@__init__ 9r "
        "12@__enter__ 13 13r 21@<module> 20 16@__exit__ 17 17r 16 17 17r 22@<module> 9@__init__ 9r "
        "12@__enter__ 13 13r 23@<module> 22 16@__exit__ 17 17r 24@<module> 25 24 26 27 28 29 30 29 27 31 "
        "32 33 34 32 32e"
    ),
    "multiline": "1@<module> 2 4 9 13 16 19 21 22 22e",
    "decorators": (
        "1@<module> 2 4 6 9 17 27 18@times 24 24r 19@deco 23 23r 10@logged 14 14r 33@<module> 34 35 "
        "12@wrapper 13 20 21 30@grow 30r 20@wrapper 21 30@grow 30r 20@wrapper 21 30@grow 30r 20@wrapper "
        "22 22r 13r 36@<module> 36e"
    ),
    "match_stmt": (
        "1@<module> 2 4 7 7@Batch 9 10 10r 13@<module> 29 30 14@describe 15 16 16r 29@<module> 30 "
        "14@describe 15 17 18 18r 29@<module> 30 14@describe 15 17 19 20 20r 29@<module> 30 14@describe "
        "15 17 19 21 22 22r 29@<module> 30 14@describe 15 17 19 21 23 24 24r 29@<module> 30 14@describe "
        "15 17 19 21 23 25 26 26r 29@<module> 29e"
    ),
    "walrus": "1@<module> 2 4 5 6 7 8 7 8 7 8 7 8 7 8 7 9 10 11 12 13 13e",
    "async_run": (
        "1@<module> 2 4 7 7@Resource 8 12 12r 16@<module> 22 27 34 28@main 9@__aenter__ 10 10r 29@main "
        "17@ticks 18 18r 29r@main 19@ticks 19r 17 18 18r 29r@main 19@ticks 19r 17 18 18r 29r@main "
        "19@ticks 19r 17 17r 28@main 13@__aexit__ 13r 30@main 30r 23@double 23r 23 23r 24 24r 24 24r "
        "31@main 31r 34e@<module>"
    ),
    "exception_reraise": (
        "1@<module> 5 5@TrainingError 6 6r 9@<module> 17 18 10@train 11 12 13 14 20@<module> "
        "11x@train"
    ),
    "exception_chained": "1@<module> 5 14 6@load 7 11 11r 15@<module> 6@load 7 8 9 11 9x",
}

KNOWN: dict[str, tuple[bool, str]] = {
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this test run's corpus runs (shared with the other corpus tests)."""
    return corpus_folder(tmp_path_factory)


def encode(trace: Trace) -> str:
    """The Steps of a trace in EXPECTED's notation."""
    tokens, function = [], None
    for step in trace.steps:
        token = f"{step.line}{_EVENT[step.event]}"
        if step.function != function:
            token, function = f"{token}@{step.function}", step.function
        tokens.append(token)
    return " ".join(tokens)


def _cases() -> list[object]:
    cases = []
    for name in EXPECTED:
        applies, reason = KNOWN.get(name, (False, ""))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if applies else []
        cases.append(pytest.param(name, marks=marks, id=name))
    return cases


def test_encode_marks_events_and_function_changes() -> None:
    """The notation: a token per step, an event letter after the line, `@function` on each change."""
    steps = (Step(0, "s.py", 3, "<module>", 0), Step(1, "s.py", 7, "f", 1),
             Step(2, "s.py", 7, "f", 1, event="return"), Step(3, "s.py", 4, "<module>", 0, event="end"))
    assert encode(Trace("s.py", steps=steps)) == "3@<module> 7@f 7r 4e@<module>"


def test_known_names_expected_scripts() -> None:
    """Every KNOWN entry is one of the EXPECTED scripts."""
    assert set(KNOWN) <= set(EXPECTED)


@pytest.mark.parametrize("name", _cases())
def test_steps_as_the_rules_say(name: str, corpus: Path) -> None:
    """`tensorscope trace` pauses at the expected steps, in order, on this Python."""
    trace = corpus_trace(name, corpus)
    assert encode(trace) == EXPECTED[name]
