"""Data breakpoints (#16 item 4): `flag:CODE` pauses once for each flag of that code the checks raise."""

from __future__ import annotations

import sys

from tensorscope.engine.databreaks import DataBreaks
from tensorscope.engine.stopon import StopOn
from tensorscope.model import Flag, PauseReason


def _flag(code: str, message: str = "m") -> Flag:
    return Flag(code, "warning", 1, "f", message, "h")


def test_flag_pauses_once_per_flag_object() -> None:
    db = DataBreaks((StopOn("flag", "device-mismatch"),))
    frame = sys._getframe()
    pending: list[Flag] = [_flag("nan-inf")]
    assert db.check(frame, pending) is None
    pending.append(_flag("device-mismatch", "x is on cpu"))
    assert db.check(frame, pending) == PauseReason("flag", "device-mismatch", "x is on cpu")
    assert db.check(frame, pending) is None  # the same flag again: considered once
    pending.append(_flag("device-mismatch", "again"))  # an equal-looking, new flag
    assert db.check(frame, pending) == PauseReason("flag", "device-mismatch", "again")
    pending.clear()  # the engine made a Step
    assert db.check(frame, pending) is None
    pending.append(_flag("device-mismatch", "next step"))
    assert db.check(frame, pending) == PauseReason("flag", "device-mismatch", "next step")
