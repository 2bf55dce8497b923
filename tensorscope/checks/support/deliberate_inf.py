"""Which infinities a script put there on purpose, for `nan-inf`.

An attention mask (`att.masked_fill(mask, float('-inf'))`, `torch.triu(torch.full(..., -inf), 1)`), a padding
value or a helper that returns such a mask writes -inf deliberately; softmax turns it into 0. Inf is
deliberate when the statement that makes it writes an infinity (`inf` in its code, a name bound to an infinite
float, `generate_square_subsequent_mask`), when a user function it called did, or when it reads a tensor
already known to hold deliberate infinities (kept by identity, weakly). NaN is never deliberate.
"""

from __future__ import annotations

import ast
import math
import re
import types
import weakref
from dataclasses import dataclass
from typing import Any

import torch

from tensorscope.checks.support.line_info import LineInfo
from tensorscope.checks.support.resolve import lookup
from tensorscope.checks.support.source import dotted
from tensorscope.engine.values import is_a

_LITERAL = re.compile(r"\binf(?:inity)?\b|generate_square_subsequent_mask", re.IGNORECASE)
_MAX_READS = 24


@dataclass(frozen=True)
class InfSource:
    """What one statement can tell about infinities it makes."""

    literal: bool = False
    """The statement writes an infinity: `float('-inf')`, `math.inf`, `-torch.inf`, a mask maker."""
    reads: tuple[str, ...] = ()
    """Dotted names the statement reads (its inputs)."""
    rebinds: tuple[str, ...] = ()
    """Names it reads and binds again: their inputs are looked at before the line runs."""
    marks: tuple[str, ...] = ()
    """Names, not among those it binds, whose tensors a literal statement fills (`m[i] = -inf`,
    `self.register_buffer('mask', ...)`)."""


NONE = InfSource()


def inf_source(info: LineInfo) -> InfSource:
    """The summary of one parsed line (not cached here: the caller keeps one per line)."""
    code = info.code
    if not code or not (info.assigned or info.inplace or _LITERAL.search(code)):
        return NONE
    literal = bool(_LITERAL.search(code))
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return InfSource(literal=literal)
    reads: list[str] = []
    buffers: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            name = dotted(node)
            if name and name not in reads and len(reads) < _MAX_READS:
                reads.append(name)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "register_buffer" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            owner = dotted(node.func.value)
            if owner:
                buffers.append(f"{owner}.{node.args[0].value}")
    bound = set(info.assigned)
    marks = tuple(n for n in (*info.inplace, *buffers) if n not in bound) if literal else ()
    return InfSource(literal=literal, reads=tuple(reads), rebinds=tuple(n for n in reads if n in bound),
                     marks=tuple(dict.fromkeys(marks)))


_writers: dict[types.CodeType, bool] = {}


def writes_inf(code: types.CodeType) -> bool:
    """Whether a function's own code names an infinity (`'-inf'`, `math.inf`, a mask maker); cached."""
    found = _writers.get(code)
    if found is None:
        words = [c for c in code.co_consts if isinstance(c, str)] + list(code.co_names)
        found = _writers[code] = any(_LITERAL.search(w) for w in words)
    return found


class Marked:
    """Tensors known to hold deliberate infinities, by identity (weak references: none is kept alive)."""

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref[torch.Tensor]] = {}
        self._prune_at = 256

    def __bool__(self) -> bool:
        return bool(self._refs)

    def add(self, t: torch.Tensor) -> None:
        """Remember `t` (its infinities were put there on purpose)."""
        self._refs[id(t)] = weakref.ref(t)
        if len(self._refs) > self._prune_at:
            self._refs = {k: r for k, r in self._refs.items() if r() is not None}
            self._prune_at = max(256, 2 * len(self._refs))

    def __contains__(self, t: object) -> bool:
        ref = self._refs.get(id(t))
        return ref is not None and ref() is t


class Ran:
    """A line the check looks at once it has run."""

    __slots__ = ("before", "info", "key", "masked", "saw", "src", "verdict")

    def __init__(self, key: tuple[str, int], info: LineInfo, src: InfSource) -> None:
        self.key = key
        self.info = info
        self.src = src
        self.before: dict[str, bool] = {}
        """For names the line reads and binds again: whether they held deliberate infinities before."""
        self.saw = False
        """A function the line called ran a statement that writes an infinity."""
        self.verdict: bool | None = None
        self.masked: str | None = None


class Intent:
    """What a run has shown of deliberate infinities: the tensors holding them, the lines making them."""

    def __init__(self) -> None:
        self.marked = Marked()
        self.carry: set[tuple[str, int]] = set()
        """Lines that made deliberate infinities: looked at on every run (what they bind is marked), and
        trusted after unobserved passes too."""
        self.sources: dict[tuple[str, int], InfSource] = {}

    def source(self, key: tuple[str, int], info: LineInfo) -> InfSource:
        """The line's summary (cached)."""
        src = self.sources.get(key)
        if src is None:
            src = self.sources[key] = inf_source(info)
        return src

    def ran(self, frame: types.FrameType, key: tuple[str, int], info: LineInfo, src: InfSource) -> Ran:
        """A line about to run: whether the names it reads and binds again hold deliberate infinities now."""
        ran = Ran(key, info, src)
        if src.rebinds and self.marked:
            local = frame.f_locals
            ran.before = {n: lookup(frame, n, local) in self.marked for n in src.rebinds}
        return ran

    def mark_fills(self, frame: types.FrameType, ran: Ran, local: Any) -> None:
        """Marks what a literal line filled in place (`m[i] = -inf`, a registered buffer)."""
        for name in ran.src.marks:
            value = lookup(frame, name, local)
            if is_a(value, torch.Tensor) and value not in self.marked:
                with torch._C.DisableTorchFunction():
                    if value.is_floating_point() and bool(torch.isinf(value.detach()).any()):
                        self.marked.add(value)


class Judge:
    """For one line that ran: whether infinities it bound are deliberate (asked only when there are some)."""

    __slots__ = ("_frame", "_intent", "_local", "_ran")

    def __init__(self, intent: Intent, frame: types.FrameType, ran: Ran, local: Any) -> None:
        self._intent, self._frame, self._ran, self._local = intent, frame, ran, local

    def deliberate(self, t: torch.Tensor) -> bool:
        """Whether the Inf in `t` (no NaN there) was put there on purpose; if so `t` is marked."""
        ran, intent = self._ran, self._intent
        if t in intent.marked:  # filled on purpose by another line (seen when a loop's passes resume)
            return True
        if ran.verdict is None:
            ran.verdict = (ran.src.literal or ran.saw or ran.key in intent.carry
                           or self.masked_input() is not None)
        # a single value (a loss, a metric) is never a mask: Inf there comes from an input, not on purpose
        if ran.verdict and (t.numel() > 1 or ran.src.literal or ran.saw):
            intent.carry.add(ran.key)
            intent.marked.add(t)
            return True
        return False

    def masked_input(self) -> str | None:
        """A name the line read that holds deliberate infinities (a mask, or an infinite float)."""
        ran = self._ran
        if ran.masked is None:
            ran.masked = ""
            for name in ran.src.reads:
                if name in ran.before:
                    if ran.before[name]:
                        ran.masked = name
                        break
                    continue
                value = lookup(self._frame, name, self._local)
                if (isinstance(value, float) and math.isinf(value)) or value in self._intent.marked:
                    ran.masked = name
                    break
        return ran.masked or None
