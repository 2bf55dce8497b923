"""`grad-accumulation`: backward() adds into a `.grad` that already holds a gradient.

A warning when the parameter was updated since that gradient was written (zero_grad forgotten), info
when it was not (micro-batch accumulation). Takes the instrumentation layer's backward() events:
before the call it finds the leaves the graph writes, after it records each leaf's version (and, for
small ones, a copy), so an update in place, by an optimizer or through `.data` is seen.

A stale sum is only a mistake if an update then uses it: a GAN's generator loss flows into the
discriminator's old gradients, which are cleared before the discriminator's next step. So the warning
is confirmed when the parameter is updated while still holding that sum (an optimizer's step, or a
change of its version seen at the next backward() or at the end), and dropped once it was cleared;
it is raised at the backward() line either way.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks._autograd_watch import forget_walk, leaves_written
from tensorscope.checks._source import Names, join_names, user_frames, value_text
from tensorscope.checks.base import Check
from tensorscope.engine.instrument import BackwardCall, Instrument, Subscriber
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.session import Session

_COPY_NUMEL = 1024
"""Hand-made leaves (not `nn.Parameter`) up to this size are also compared by value, to see updates that
bypass `_version` (`w.data -= ...`)."""


def _nonzero(g: torch.Tensor) -> bool:
    """Whether a gradient holds anything but zeros."""
    g = g.detach()
    if g.is_sparse:
        return bool(g.coalesce().values().any())
    return bool(g.any())


class _Written:
    """What a leaf looked like when backward() last wrote its `.grad`."""

    __slots__ = ("ref", "version", "copy")

    def __init__(self, leaf: torch.Tensor) -> None:
        self.ref = weakref.ref(leaf)
        self.version = leaf._version
        small = leaf.numel() <= _COPY_NUMEL and not is_a(leaf, torch.nn.Parameter)
        self.copy = leaf.detach().clone() if small else None  # an optimizer's update moves `_version`

    def updated(self, leaf: torch.Tensor) -> bool:
        if leaf._version != self.version:
            return True
        if self.copy is None:
            return False
        now = leaf.detach()
        if torch.equal(self.copy, now):  # one cheap comparison in the usual case
            return False
        return not torch.allclose(self.copy, now, rtol=0.0, atol=0.0, equal_nan=True)


class _Stale:
    """Gradients a backward() added onto stale ones, awaiting the update that would use them."""

    __slots__ = ("line", "leaves", "states", "held", "done")

    def __init__(self, line: int, leaves: list[torch.Tensor], held: list[str]) -> None:
        self.line = line
        self.leaves = [weakref.ref(t) for t in leaves]
        self.states = [_Written(t) for t in leaves]
        self.held = held
        self.done = False


class GradAccumulation(Check, Subscriber):
    """Flags backward() calls that add into gradients already there."""

    code: ClassVar[str] = "grad-accumulation"
    wants_lines = True
    """Lines confirm a stale sum as soon as an update uses it: the flag shows before the next backward()."""

    def __init__(self) -> None:
        self._written: dict[int, _Written] = {}
        self._flagged: set[tuple[int, str]] = set()
        self._stale: list[_Stale] = []
        self._globals: dict[str, Any] | None = None
        """The script's module namespace, to name tensors once its frames are gone (at the end)."""

    def subscribe(self, events: Instrument) -> None:
        events.on_backward(self._before, self._after_call)
        events.on_optimizer_step(self._before_step)

    def on_finish(self, ctx: Session) -> None:
        try:
            self._settle(ctx, final=True)
        finally:
            self._written.clear()
            self._stale.clear()
            self._globals = None
            forget_walk()

    def on_line(self, ctx: Session, frame: Any, line: int) -> None:
        if self._stale:  # nothing to do in a clean run
            with torch._C.DisableTorchFunction():
                self._settle(ctx)

    # --- backward -----------------------------------------------------------------------------------

    def _before(self, ctx: Session, call: BackwardCall) -> None:
        if call.kind != "grad":  # autograd.grad() writes no .grad
            args, kwargs = call.autograd_args()
            call.notes[self.code] = self._before_backward(ctx, args, kwargs, call.line)

    def _after_call(self, ctx: Session, call: BackwardCall) -> None:
        note = call.notes.get(self.code)
        if note is not None and call.error is None:
            self._after_backward(ctx, *note, call.line)

    def _before_backward(self, ctx: Session, args: tuple[Any, ...], kwargs: dict[str, Any], line: int
                         ) -> tuple[list[torch.Tensor], list[tuple[torch.Tensor, bool, str]]]:
        if self._globals is None:
            frames = user_frames(ctx)
            self._globals = frames[-1].f_globals if frames else None
        with torch._C.DisableTorchFunction():
            self._settle(ctx)
            leaves = leaves_written(args, kwargs)
            return leaves, self._held(leaves, line)

    def _after_backward(self, ctx: Session, leaves: list[torch.Tensor],
                        before: list[tuple[torch.Tensor, bool, str]], line: int) -> None:
        with torch._C.DisableTorchFunction():
            self._record(leaves)
            if before:
                self._after(ctx, before, line)

    def _held(self, leaves: list[torch.Tensor], line: int) -> list[tuple[torch.Tensor, bool, str]]:
        """(leaf, updated since, value held) for each leaf whose .grad holds a gradient backward() wrote."""
        held: list[tuple[torch.Tensor, bool, str]] = []
        for leaf in leaves:
            g = leaf.grad
            if g is None:
                continue
            rec = self._written.get(id(leaf))
            if rec is None or rec.ref() is not leaf:
                continue  # a .grad this run's backward() did not write (set by hand): not ours to judge
            if not _nonzero(g):
                continue  # zeroed in place: adding to zeros is a fresh gradient
            updated = rec.updated(leaf)
            if (line, "warning" if updated else "info") in self._flagged:
                continue
            held.append((leaf, updated, value_text(g) if len(held) < 3 else ""))
        return held

    def _record(self, leaves: list[torch.Tensor]) -> None:
        for leaf in leaves:
            if leaf.grad is not None:
                self._written[id(leaf)] = _Written(leaf)
        if len(self._written) > 4 * max(len(leaves), 64):
            self._written = {k: v for k, v in self._written.items() if v.ref() is not None}

    def _after(self, ctx: Session, before: list[tuple[torch.Tensor, bool, str]], line: int) -> None:
        accumulated = [(leaf, held) for leaf, updated, held in before if not updated]
        if accumulated:
            self._report(ctx, "info", line, [t for t, _ in accumulated], [h for _, h in accumulated])
        stale = [(leaf, held) for leaf, updated, held in before if updated]
        if stale:
            self._stale.append(_Stale(line, [t for t, _ in stale], [h for _, h in stale]))

    # --- confirming stale sums ------------------------------------------------------------------------

    def _before_step(self, ctx: Session, optimizer: torch.optim.Optimizer) -> None:
        """An optimizer is about to update: a stale sum it is given is a mistake; a cleared one is not."""
        if not self._stale:
            return
        params = {id(p) for g in optimizer.param_groups for p in g.get("params", [])}
        for stale in self._stale:
            if stale.done:
                continue
            for ref in stale.leaves:
                leaf = ref()
                if leaf is None or id(leaf) not in params:
                    continue
                if leaf.grad is not None and _nonzero(leaf.grad):
                    self._confirm(ctx, stale)
                    break
        self._stale = [s for s in self._stale if not s.done]

    def _settle(self, ctx: Session, final: bool = False) -> None:
        """Before a backward() (or at the end): confirm the stale sums an update has used since, drop the
        ones that were cleared."""
        for stale in self._stale:
            if stale.done:
                continue
            live = [(ref(), state) for ref, state in zip(stale.leaves, stale.states, strict=True)]
            if any(leaf is not None and state.updated(leaf) for leaf, state in live):
                self._confirm(ctx, stale)
            elif not final and all(leaf is None or leaf.grad is None or not _nonzero(leaf.grad)
                                   for leaf, _ in live):
                stale.done = True
        self._stale = [s for s in self._stale if not s.done]

    def _confirm(self, ctx: Session, stale: _Stale) -> None:
        stale.done = True
        leaves = [t for t in (ref() for ref in stale.leaves) if t is not None]
        if leaves:
            self._report(ctx, "warning", stale.line, leaves, stale.held)

    def _report(self, ctx: Session, severity: str, line: int, leaves: list[torch.Tensor],
                held: list[str]) -> None:
        key = (line, severity)
        if key in self._flagged:
            return
        self._flagged.add(key)
        names = Names(ctx, namespace=self._globals)
        order = sorted(range(len(leaves)), key=lambda i: names.rank(leaves[i]))
        params = [names.name(leaves[i]) for i in order]
        values = [held[i] for i in order if i < len(held) and held[i]]
        data = {
            "grads": join_names([f"{p}.grad" for p in params]),
            "params": join_names(params),
            "param": params[0],
            "held": ", ".join(values[:3]),
            "was": "was" if len(params) == 1 else "were",
            "count": str(len(params)),
        }
        if severity == "info":
            data["variant"] = "accumulate"
        self.flag(ctx, severity, data, tuple(params), line=line)  # type: ignore[arg-type]
