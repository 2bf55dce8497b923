"""The pause policy and the statement map: pure functions, shared by the live engine and replay."""

from __future__ import annotations

import pytest

from tensorscope.engine.stepping import comprehension_spans, inside, is_new_step, pauses_at, statement_starts


@pytest.mark.parametrize(
    ("mode", "event", "depth", "cmd_depth", "kw", "expected"),
    [
        ("step", "line", 3, 0, {}, True),
        ("step", "return", 3, 0, {}, True),
        ("next", "line", 1, 0, {}, False),
        ("next", "line", 0, 0, {}, True),
        ("next", "line", 0, 1, {}, True),  # returned above the frame `next` was given in
        ("next", "return", 1, 1, {}, True),
        ("next", "return", 2, 1, {}, False),
        ("finish", "line", 1, 1, {}, False),
        ("finish", "line", 0, 1, {}, True),
        ("finish", "return", 0, 1, {}, False),
        ("continue", "line", 0, 0, {}, False),
        ("continue", "line", 4, 0, {"at_breakpoint": True}, True),
        ("next", "line", 4, 0, {"at_breakpoint": True}, True),
        ("continue", "line", 2, 0, {"flagged": True}, True),
        ("continue", "line", 2, 0, {"interrupted": True}, True),
        ("finish", "line", 5, 1, {"interrupted": True}, True),
        ("continue", "return", 2, 0, {"interrupted": True, "at_breakpoint": True}, False),
        ("continue", "exception", 2, 0, {}, True),
        ("continue", "end", 0, 0, {}, True),
    ],
)
def test_pauses_at(mode, event, depth, cmd_depth, kw, expected):
    assert pauses_at(mode, event, depth, cmd_depth, **kw) is expected


def test_is_new_step():
    assert is_new_step(None, 3, False)
    assert is_new_step(3, 5, False)
    assert not is_new_step(3, 3, False)  # another line of the same statement
    assert is_new_step(3, 3, True)  # a one-line loop came back


def test_statement_starts():
    source = (
        "x = f(\n"  # 1
        "    1,\n"  # 2
        ")\n"  # 3
        "for i in range(3): x += i\n"  # 4
        "@dec\n"  # 5
        "def g(a,\n"  # 6
        "      b):\n"  # 7
        "    return [a\n"  # 8
        "            for _ in b]\n"  # 9
        "try:\n"  # 10
        "    pass\n"  # 11
        "except (ValueError,\n"  # 12
        "        KeyError):\n"  # 13
        "    pass\n"  # 14
    )
    starts = statement_starts(source)
    assert [starts[n] for n in (1, 2, 3)] == [1, 1, 1]
    assert starts[4] == 4
    assert [starts[n] for n in (5, 6, 7)] == [5, 5, 5]
    assert [starts[n] for n in (8, 9)] == [8, 8]
    assert starts[10] == 10 and starts[11] == 11
    assert [starts[n] for n in (12, 13, 14)] == [12, 12, 14]
    assert statement_starts("def (:\n") == {}


def test_statement_starts_nested_decorator_and_match():
    """A decorated def first in a body is its own statement from its decorator on; `match` owns its header."""
    source = (
        "def outer(fn):\n"  # 1
        "    @wraps(fn)\n"  # 2
        "    def inner():\n"  # 3
        "        match fn:\n"  # 4
        "            case 0:\n"  # 5
        "                return 1\n"  # 6
        "            case [a,\n"  # 7
        "                  b]:\n"  # 8
        "                return 2\n"  # 9
        "    return inner\n"  # 10
    )
    starts = statement_starts(source)
    assert [starts[n] for n in (1, 2, 3, 4)] == [1, 2, 2, 4]
    assert [starts[n] for n in (5, 6, 7, 8, 9, 10)] == [5, 6, 7, 7, 9, 10]


def test_comprehension_spans():
    spans = comprehension_spans("y = [i\n     for i in x]\nz = (j for j in x)\n")
    assert spans == [(1, 4, 2, 16)]
    assert inside(spans, 2, 5) and not inside(spans, 1, 0) and not inside(spans, 3, 5)
