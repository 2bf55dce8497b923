"""The pause policy, as pure functions: where a command pauses, and what counts as one step.

The live engine and `replay` both ask `pauses_at`, so a recorded run replays with the same pauses; the
tracer backends both ask `statement_starts` / `is_new_step`, so every Python version steps alike.
"""

from __future__ import annotations

import ast

MODES: tuple[str, ...] = ("step", "next", "finish", "continue")


def pauses_at(
    mode: str,
    event: str,
    depth: int,
    cmd_depth: int,
    *,
    at_breakpoint: bool = False,
    flagged: bool = False,
    interrupted: bool = False,
) -> bool:
    """Whether a run told `mode` at call depth `cmd_depth` pauses at this event (bdb's stop_here).

    `event` is "line", "return", "exception" (uncaught: the end) or "end"; `depth` the user call depth
    of the frame; `flagged` that a flag worth stopping for was raised since the last pause;
    `interrupted` that the user asked the running script to pause.
    """
    if event in ("exception", "end"):
        return True
    if mode == "step":
        return True
    if event == "return":  # returns pause only in step mode and in `next` at or above its frame
        return mode == "next" and depth <= cmd_depth
    if interrupted or at_breakpoint:
        return True
    if mode == "next":
        return depth <= cmd_depth
    if mode == "finish":
        return depth < cmd_depth
    return flagged  # continue: to a breakpoint, a flag, or the end


def is_new_step(last_start: int | None, start: int, back_jump: bool) -> bool:
    """Whether a line event that belongs to the statement starting at `start` begins a new step.

    `last_start`: the statement the frame's previous step was in (None: none yet in this frame).
    A statement spanning several lines is one step; a loop that jumps back to its own line (a one-line
    `for`) starts a new step each time, as `back_jump` says.
    """
    return last_start is None or start != last_start or back_jump


def statement_starts(source: str) -> dict[int, int]:
    """Map each line of `source` to the first line of the innermost statement (or clause header) on it.

    Lines that are in no statement (blank, comments, `else:`) are absent. Compound statements own their
    header lines only (`for x in (1,\\n 2):` up to its body); decorators belong to their definition.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    starts: dict[int, int] = {}

    def first_line(stmt: ast.stmt) -> int:
        """A statement's first line: its first decorator's, for a decorated definition."""
        decorators = getattr(stmt, "decorator_list", None) or []
        return min([stmt.lineno, *(d.lineno for d in decorators)])

    def claim(first: int, last: int, start: int, floor: int) -> None:
        for n in range(max(first, floor + 1), last + 1):
            starts[n] = start

    def visit(node: ast.AST, floor: int = 0) -> None:
        """Claim the lines of `node`'s statements; lines up to `floor` are its own header's."""
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                first = first_line(child)
                body = getattr(child, "body", None)
                if isinstance(child, ast.Match) and child.cases:  # its header is `match SUBJECT:`
                    last = max(child.lineno, child.cases[0].pattern.lineno - 1)
                elif isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                    last = max(child.lineno, first_line(body[0]) - 1)
                else:
                    last = child.end_lineno or child.lineno
                claim(first, last, first, floor)
                visit(child, max(floor, last))
            elif isinstance(child, ast.excepthandler | ast.match_case):
                line = getattr(child, "lineno", None) or getattr(child.pattern, "lineno", 0)  # type: ignore[attr-defined]
                body = child.body
                last = max(line, first_line(body[0]) - 1) if body else line
                claim(line, last, line, floor)
                visit(child, max(floor, last))
            else:
                visit(child, floor)

    visit(tree)
    return starts


def finally_starts(source: str) -> frozenset[int]:
    """The first line of each `finally:` body: an exception that reaches one passes through (it is raised
    again at the body's end), so it is not caught there."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(node.finalbody[0].lineno for node in ast.walk(tree)
                     if isinstance(node, ast.Try | ast.TryStar) and node.finalbody)


def guarded_lines(source: str) -> frozenset[int]:
    """The lines inside the body of a `try:` that has `except` handlers: an exception raised there (or in
    what they call) may be caught by the script."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try | ast.TryStar) and node.handlers and node.body:
            lines.update(range(node.body[0].lineno, (node.body[-1].end_lineno or node.body[-1].lineno) + 1))
    return frozenset(lines)


def breakpoint_calls(source: str) -> frozenset[int]:
    """The first line of each statement that calls `breakpoint()` by that name."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    lines: set[int] = set()
    todo: list[tuple[ast.AST, int]] = [(tree, 0)]
    while todo:
        node, statement = todo.pop()
        for child in ast.iter_child_nodes(node):
            func = child.func if isinstance(child, ast.Call) else None
            if isinstance(func, ast.Name) and func.id == "breakpoint":
                lines.add(statement)
            todo.append((child, child.lineno if isinstance(child, ast.stmt) else statement))
    return frozenset(lines)


def comprehension_spans(source: str) -> list[tuple[int, int, int, int]]:
    """(line, col, end line, end col) of every list, set and dict comprehension in `source`.

    Python 3.12+ inlines these into the enclosing code (PEP 709): their loops must not make steps.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return [
        (n.lineno, n.col_offset, n.end_lineno or n.lineno, n.end_col_offset or 0)
        for n in ast.walk(tree)
        if isinstance(n, ast.ListComp | ast.SetComp | ast.DictComp)
    ]


def inside(spans: list[tuple[int, int, int, int]], line: int, col: int) -> bool:
    """Whether the position (line, col) lies within one of `spans`."""
    for first, c0, last, c1 in spans:
        if (first, c0) <= (line, col) < (last, c1):
            return True
    return False
