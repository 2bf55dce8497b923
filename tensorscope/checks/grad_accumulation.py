"""`grad-accumulation`: backward() adds into a `.grad` that already holds a gradient.

A warning when the parameter was updated since that gradient was written (zero_grad forgotten), info
when it was not (micro-batch accumulation). Takes the instrumentation layer's backward() events:
before the call it finds the leaves the graph writes, after it records each leaf's version (and, for
small ones, a copy), so an update in place, by an optimizer or through `.data` is seen.

A stale sum is only a mistake if an update then uses it: a GAN's generator loss flows into the
discriminator's old gradients, which are cleared before the discriminator's next step. So the warning
is confirmed when the parameter is updated while still holding that sum (an optimizer's step, or a
change of its version seen at the next backward() or at the end), and dropped once it was cleared;
it is raised at the backward() line either way, named as that line's frame names the tensors, in that
line's function. An optimizer's step counts as an update even when it leaves `_version` alone (the
fused kernels, `fused=True`, do). Passes of a loop that `check` does not observe hide the order of
what happens in them: a sum pending across them whose parameter was updated meanwhile is dropped (it
may have been cleared first), and a record whose `.grad` changed meanwhile (unseen backward() calls
added to it) judges nothing; the next observed pass is judged afresh.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks.base import Check
from tensorscope.checks.support.autograd_watch import forget_walk, leaves_written
from tensorscope.checks.support.names import Names, user_frames
from tensorscope.checks.support.text import join_names, value_text
from tensorscope.engine.collect import format_number
from tensorscope.engine.instrument import BackwardCall, Instrument, Subscriber
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

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

    __slots__ = ("ref", "version", "copy", "stepped", "grad", "grad_version", "dark")

    def __init__(self, leaf: torch.Tensor, reuse: _Written | None = None) -> None:
        self.ref = weakref.ref(leaf)
        self.version = leaf._version
        self.stepped = False
        """An optimizer's step() ran over the leaf since (fused steps leave `_version` as it was)."""
        g = leaf.grad
        self.grad = weakref.ref(g) if g is not None else None
        self.grad_version = g._version if g is not None else -1
        self.dark = False
        """Unobserved passes ran since: backward() and step() calls may have gone unseen."""
        small = leaf.numel() <= _COPY_NUMEL and not is_a(leaf, torch.nn.Parameter)
        self.copy: torch.Tensor | None = None  # an optimizer's update moves `_version`
        if small:
            now = leaf.detach()
            old = reuse.copy if reuse is not None else None
            if old is not None and old.shape == now.shape and old.dtype == now.dtype \
                    and old.device == now.device and old.layout == now.layout == torch.strided:
                self.copy = old.copy_(now)  # the same leaf again: refill its buffer, no allocation
            else:
                self.copy = now.clone()

    def regraded(self, leaf: torch.Tensor) -> bool:
        """The `.grad` is not the one recorded: something added to it in place (which moves its
        `_version`: backward() does), or replaced it."""
        g = leaf.grad
        return self.grad is None or g is not self.grad() or g._version != self.grad_version

    def updated(self, leaf: torch.Tensor) -> bool:
        if self.stepped or leaf._version != self.version:
            return True
        if self.copy is None:
            return False
        now = leaf.detach()
        if torch.equal(self.copy, now):  # one cheap comparison in the usual case
            return False
        return not torch.allclose(self.copy, now, rtol=0.0, atol=0.0, equal_nan=True)


_NORM = "‖·‖="


def held_text(grads: list[str], values: list[str]) -> str:
    """The values the grads held, for the message: `3, -2`, `‖·‖=2.828` or, when norms and single numbers
    are mixed, each with its own label (`‖w.grad‖=2.828, b.grad=-2`)."""
    norms = [v.startswith(_NORM) for v in values]
    if len(values) < 2 or all(norms) or not any(norms):
        return ", ".join(values)
    return ", ".join(f"‖{g}‖={v[len(_NORM):]}" if norm else f"{g}={v}"
                     for g, v, norm in zip(grads, values, norms, strict=False))


def norm_text(g: torch.Tensor) -> str:
    """`value_text` without its float64 copy, for the many grads of a pending sum (float32 is enough for
    4 digits; an overflow or an odd tensor goes the exact way)."""
    x = g.detach()
    if x.numel() > 1 and x.layout == torch.strided and x.dtype.is_floating_point \
            and x.device.type != "meta":
        wide = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else None
        norm = float(torch.linalg.vector_norm(x, dtype=wide))
        if math.isfinite(norm):
            return _NORM + format_number(norm)
    return value_text(x)


@dataclasses.dataclass
class _Sum:
    """Gradients one backward() adds onto, named as the flagged line's frame names them."""

    leaves: list[torch.Tensor]
    """In the user's order (where each comes in their scope)."""
    names: list[str]
    values: list[str]
    """What each grad held before this backward() (only the first few for an info)."""
    where: tuple[str, str]
    """(file as a Flag shows it, function) of the backward() line."""

    def held(self, indices: list[int]) -> str:
        """The values of the first few of these leaves, as the message shows them."""
        first = indices[:3]
        return held_text([f"{self.names[i]}.grad" for i in first], [self.values[i] for i in first])


class _Stale:
    """Gradients a backward() added onto stale ones, awaiting the update that would use them."""

    __slots__ = ("line", "leaves", "states", "found", "done", "dark")

    def __init__(self, line: int, found: _Sum) -> None:
        self.line = line
        self.leaves = [weakref.ref(t) for t in found.leaves]
        self.states = [_Written(t) for t in found.leaves]
        self.found = dataclasses.replace(found, leaves=[])  # (the weak references above keep no leaf alive)
        self.done = False
        self.dark = False
        """Pending across unobserved passes: an update seen after them may have come after a clearing."""

    def keep(self, indices: list[int]) -> None:
        """Go on watching only these leaves (the others' sums were cleared, or they are gone)."""
        f = self.found
        self.leaves = [self.leaves[i] for i in indices]
        self.states = [self.states[i] for i in indices]
        self.found = _Sum([], [f.names[i] for i in indices], [f.values[i] for i in indices], f.where)
        self.done = not indices


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
        """The script's module namespace, to name tensors the frames do not."""

    def subscribe(self, events: Instrument) -> None:
        events.on_backward(self._before, self._after_call)
        events.on_optimizer_step(self._before_step)

    def on_finish(self, ctx: RunContext) -> None:
        try:
            self._settle(ctx, final=True)
        finally:
            self._written.clear()
            self._stale.clear()
            self._globals = None
            forget_walk()

    def on_line(self, ctx: RunContext, frame: Any, line: int) -> None:
        if self._stale:  # nothing to do in a clean run
            with torch._C.DisableTorchFunction():
                self._settle(ctx)

    def on_gap(self, ctx: RunContext) -> None:
        """Unobserved passes start: whatever clears or uses a pending sum there goes unseen, and so do the
        backward() and step() calls that would keep the records true."""
        for rec in self._written.values():
            rec.dark = True
        for stale in self._stale:
            stale.dark = True

    def on_resume(self, ctx: RunContext, frame: Any, lines: frozenset[int]) -> None:
        """Observed again: a pending sum whose parameter was updated or whose `.grad` changed in between is
        dropped (was it cleared first?), one still held as it was is watched as before."""
        if self._stale:
            with torch._C.DisableTorchFunction():
                self._settle(ctx)
            for stale in self._stale:
                stale.dark = False

    # --- backward -----------------------------------------------------------------------------------

    def _before(self, ctx: RunContext, call: BackwardCall) -> None:
        if call.kind != "grad":  # autograd.grad() writes no .grad
            args, kwargs = call.autograd_args()
            call.notes[self.code] = self._before_backward(ctx, args, kwargs, call.line)

    def _after_call(self, ctx: RunContext, call: BackwardCall) -> None:
        note = call.notes.get(self.code)
        if note is not None and call.error is None:
            self._after_backward(ctx, *note, call.line)

    def _before_backward(self, ctx: RunContext, args: tuple[Any, ...], kwargs: dict[str, Any], line: int
                         ) -> tuple[list[torch.Tensor], _Sum | None, _Sum | None]:
        if self._globals is None:
            frames = user_frames(ctx)
            self._globals = frames[-1].f_globals if frames else None
        with torch._C.DisableTorchFunction():
            self._settle(ctx)
            leaves = leaves_written(args, kwargs)
            held = self._held(leaves, line)
            if not held:
                return leaves, None, None
            names = Names(ctx, namespace=self._globals)  # the backward() line's frame, as it names them
            where = self._where(ctx)
            accumulated = self._sum(names, [leaf for leaf, updated in held if not updated], where, 3)
            stale = self._sum(names, [leaf for leaf, updated in held if updated], where)
            return leaves, accumulated, stale

    def _after_backward(self, ctx: RunContext, leaves: list[torch.Tensor], accumulated: _Sum | None,
                        stale: _Sum | None, line: int) -> None:
        with torch._C.DisableTorchFunction():
            self._record(leaves)
            if accumulated is not None:
                self._report(ctx, "info", line, accumulated, list(range(len(accumulated.names))))
            if stale is not None:
                self._stale.append(_Stale(line, stale))

    def _held(self, leaves: list[torch.Tensor], line: int) -> list[tuple[torch.Tensor, bool]]:
        """(leaf, updated since) for each leaf whose .grad holds a gradient backward() wrote."""
        held: list[tuple[torch.Tensor, bool]] = []
        for leaf in leaves:
            g = leaf.grad
            if g is None:
                continue
            rec = self._written.get(id(leaf))
            if rec is None or rec.ref() is not leaf or (rec.dark and rec.regraded(leaf)):
                continue  # a .grad this run's backward() did not write (set by hand), or an unseen one did
            if not _nonzero(g):
                continue  # zeroed in place: adding to zeros is a fresh gradient
            updated = rec.updated(leaf)
            if (line, "warning" if updated else "info") in self._flagged:
                continue
            held.append((leaf, updated))
        return held

    @staticmethod
    def _sum(names: Names, leaves: list[torch.Tensor], where: tuple[str, str], most: int = 0
             ) -> _Sum | None:
        """The leaves in the user's order, their names, and what their grads hold now (the first `most`
        exactly; 0: every one, any of which may come first in the warning)."""
        if not leaves:
            return None
        leaves = sorted(leaves, key=names.rank)
        values = [("?" if t.grad is None else value_text(t.grad) if most else norm_text(t.grad))
                  for t in (leaves[:most] if most else leaves)]
        return _Sum(leaves, [names.name(t) for t in leaves], values, where)

    @staticmethod
    def _where(ctx: RunContext) -> tuple[str, str]:
        """(file as a Flag shows it, function) of the line running now."""
        file, _line, function = ctx.location()
        return ("" if file == ctx.target.display else file), function

    def _record(self, leaves: list[torch.Tensor]) -> None:
        written = self._written
        for leaf in leaves:
            if leaf.grad is not None:
                key = id(leaf)
                old = written.get(key)
                written[key] = _Written(leaf, old if old is not None and old.ref() is leaf else None)
        if len(self._written) > 4 * max(len(leaves), 64):
            self._written = {k: v for k, v in self._written.items() if v.ref() is not None}

    # --- confirming stale sums ------------------------------------------------------------------------

    def _before_step(self, ctx: RunContext, optimizer: torch.optim.Optimizer) -> None:
        """An optimizer is about to update: a stale sum it is given is a mistake; a cleared one is not.
        Its parameters count as updated from now on (a fused step leaves their `_version` alone)."""
        params = {id(p) for g in optimizer.param_groups for p in g.get("params", [])}
        for key in params:
            rec = self._written.get(key)
            if rec is not None:
                rec.stepped = True
        if not self._stale:
            return
        for stale in self._stale:
            used = [i for i, ref in enumerate(stale.leaves)
                    if (leaf := ref()) is not None and id(leaf) in params
                    and leaf.grad is not None and _nonzero(leaf.grad)]
            if used:
                self._confirm(ctx, stale, used)
        self._stale = [s for s in self._stale if not s.done]

    def _settle(self, ctx: RunContext, final: bool = False) -> None:
        """Before a backward() (or at the end): confirm the stale sums an update has used since (naming the
        leaves updated and those still holding theirs), forget the leaves whose sum was cleared."""
        for stale in self._stale:
            used: list[int] = []
            keep: list[int] = []
            for i, (ref, state) in enumerate(zip(stale.leaves, stale.states, strict=True)):
                leaf = ref()
                if leaf is None:
                    continue
                if stale.dark and (state.updated(leaf) or state.regraded(leaf)):
                    continue  # in passes not observed: cleared before, or after? Not ours to judge
                if state.updated(leaf):
                    used.append(i)
                elif final or (leaf.grad is not None and _nonzero(leaf.grad)):
                    keep.append(i)
            if used:  # an update by hand goes one line at a time: the sums still held come with it
                self._confirm(ctx, stale, sorted(used + keep))
            elif len(keep) < len(stale.leaves):
                stale.keep(keep)
        self._stale = [s for s in self._stale if not s.done]

    def _confirm(self, ctx: RunContext, stale: _Stale, used: list[int]) -> None:
        stale.done = True
        self._report(ctx, "warning", stale.line, stale.found, used)

    def _report(self, ctx: RunContext, severity: str, line: int, found: _Sum, indices: list[int]) -> None:
        key = (line, severity)
        if key in self._flagged:
            return
        self._flagged.add(key)
        params = [found.names[i] for i in indices]
        held = found.held(indices)
        data = {
            "grads": join_names([f"{p}.grad" for p in params]),
            "params": join_names(params),
            "param": params[0],
            "held": held,
            "was": "was" if len(params) == 1 else "were",
            "count": str(len(params)),
        }
        if severity == "info":
            data["variant"] = "accumulate"
        # confirmed maybe later, in another function: the flag is the backward() line's, in its function
        self.flag(ctx, severity, data, tensors=tuple(params), line=line, where=found.where)  # type: ignore[arg-type]

