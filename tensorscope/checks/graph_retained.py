"""`graph-retained`: a tensor with grad_fn is accumulated across iterations, keeping every graph alive.

Watches the lines that accumulate (`total += loss`, `total = total + loss`, `losses.append(loss)`).
After such a line runs, it is flagged when the accumulator now links a tensor with grad_fn to the one
it held at the previous pass, and a backward() ran in between: the graphs of past iterations, already
used, can no longer be freed. Summing losses to call backward() once (micro-batches, RNN steps) has
no backward() in between and is left alone.
"""

from __future__ import annotations

import ast
import types
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks.base import Check
from tensorscope.checks.support.line_info import AfterLine, LineInfo, line_info
from tensorscope.checks.support.resolve import lookup
from tensorscope.engine.instrument import BackwardCall, Instrument, Subscriber
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext


def _has_graph(value: Any) -> bool:
    return is_a(value, torch.Tensor) and value.grad_fn is not None


def _operand(added: str) -> str:
    """`added` as the operand of a method call: `loss`, `out.sum()`, but `(l * n)` for `l * n`."""
    try:
        node = ast.parse(added, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return f"({added})"
    return added if isinstance(node, ast.Name | ast.Attribute | ast.Call | ast.Subscript) else f"({added})"


def _accumulated(frame: types.FrameType, target: str) -> Any:
    """The running sum's value: a dotted name, or an entry of a plain dict or list (`stats["loss"]`)."""
    if not target.endswith("]"):
        return lookup(frame, target)
    node = ast.parse(target, mode="eval").body
    assert isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
    owner, key = lookup(frame, ast.unparse(node.value)), node.slice.value
    if type(owner) is dict:
        return owner.get(key)
    if type(owner) is list and type(key) is int and -len(owner) <= key < len(owner):
        return owner[key]
    return None


class GraphRetained(Check, Subscriber):
    """Flags `total += loss` and `losses.append(loss)` that chain graphs across iterations."""

    code: ClassVar[str] = "graph-retained"
    wants_lines = True

    def __init__(self) -> None:
        self._backwards = 0
        self._after = AfterLine()
        self._sums: dict[tuple[str, int, str], tuple[Any, int]] = {}
        """(file, line, target) -> (grad_fn of the accumulator after the last pass, backward count then)."""
        self._lists: dict[tuple[str, int, str], tuple[int, int, int, weakref.ref[torch.Tensor]]] = {}
        """(file, line, list) -> (id of the list, its length, backward count, its last item) after the last
        append; the item tells the same list from a new one that got a freed list's id."""
        self._flagged: set[tuple[str, str]] = set()

    def subscribe(self, events: Instrument) -> None:
        events.on_backward(after=self._count)

    def _count(self, ctx: RunContext, call: BackwardCall) -> None:
        if call.error is None:
            self._backwards += 1

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        info = line_info(ctx, frame, line)
        if info.continuation:
            return
        done = self._after.advance(frame, line) if self._after.pending is not None else None
        if done is not None:
            self._finished(ctx, *done)
        if info.accumulates is not None or info.appends is not None:
            self._after.pending = (frame, line, info)

    def on_finish(self, ctx: RunContext) -> None:
        self._after.pending = None
        self._sums.clear()
        self._lists.clear()

    def _finished(self, ctx: RunContext, frame: types.FrameType, line: int, info: LineInfo) -> None:
        file = frame.f_code.co_filename
        appends = info.appends
        if info.accumulates is not None:
            target, added = info.accumulates
            value = _accumulated(frame, target)
            if isinstance(value, list):  # `losses += [loss]`
                appends = (target, added.removeprefix("[").removesuffix("]"))
        if info.accumulates is not None and appends is None:
            key = (file, line, target)
            if not _has_graph(value):
                self._sums.pop(key, None)
                return
            node = value.grad_fn
            last = self._sums.get(key)
            self._sums[key] = (node, self._backwards)
            if last is None or last[1] == self._backwards:
                return
            if any(nxt is last[0] for nxt, _ in node.next_functions):
                self._report(ctx, frame, line, target, added, f"{target} += {_operand(added)}.item()")
        elif appends is not None:
            owner, added = appends
            lst = _accumulated(frame, owner)
            key = (file, line, owner)
            if not isinstance(lst, list) or not lst or not _has_graph(lst[-1]):
                self._lists.pop(key, None)
                return
            last = self._lists.get(key)
            self._lists[key] = (id(lst), len(lst), self._backwards, weakref.ref(lst[-1]))
            if last is None or last[2] == self._backwards:
                return
            if last[0] == id(lst) and last[1] < len(lst) and lst[last[1] - 1] is last[3]() \
                    and _has_graph(lst[last[1] - 1]):
                self._report(ctx, frame, line, owner, added, f"{owner}.append({_operand(added)}.item())")

    def _report(self, ctx: RunContext, frame: types.FrameType, line: int, name: str, added: str,
                fixed: str) -> None:
        key = (frame.f_code.co_filename, name)
        if key in self._flagged:
            return
        self._flagged.add(key)
        data = {
            "name": name,
            "value": added,
            "code": line_info(ctx, frame, line).code,
            "fixed": fixed,
            "operand": _operand(added),
        }
        tensors = (name, added) if added.isidentifier() else (name,)
        self.flag(ctx, "warning", data, tensors=tensors, line=line)
