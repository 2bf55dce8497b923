"""The recorded Steps of one run and what the panes derive from them (output so far, loss curve, flags).

Plain Python, no UI: step back is an index minus one, and every pane reads the Step at that index.
"""

from __future__ import annotations

import math

from tensorscope.diff import same_frame_before
from tensorscope.model import Flag, Step, TensorView

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

Series = list[tuple[int, float]]
"""(Step.index, value) points of a curve, oldest first."""


def loss_value(t: TensorView) -> float | None:
    """The value of a one-element tensor, from its recorded stats (numbers, never the preview text)."""
    if t.numel != 1 or t.stats is None:
        return None
    s = t.stats
    if s.nan:
        return math.nan
    if s.inf:
        return -math.inf if s.max is not None and s.max < 0 else math.inf
    return s.mean


def _is_loss_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1].lower()
    return last == "loss" or last.endswith("_loss") or last.startswith("loss_")


MAX_STEPS = 20_000
"""Steps kept for stepping back; past this the oldest tenth is let go (their flags, losses, output stay)."""
MAX_OLD_OUTPUT = 200_000
"""Characters kept of the output printed before the oldest Step kept."""


class History:
    """The Steps of the run so far (the last MAX_STEPS of them) and the one on screen."""

    def __init__(self, max_steps: int = MAX_STEPS) -> None:
        self.max_steps = max_steps
        self.dropped = 0
        """How many of the run's first Steps were let go (step back stops at the oldest one kept)."""
        self._old_output = ""
        self.steps: list[Step] = []
        self.index = -1
        """Position of the Step on screen (-1: none yet)."""
        self._output: list[str] = []
        self._flags: list[tuple[int, Flag]] = []
        self._backward_losses: list[tuple[int, int, float, str | None]] = []
        """(position, Step.index, Step.loss, Step.loss_name) of the Steps after a backward()."""
        self._tensor_losses: list[tuple[int, int, float, str]] = []
        """(position, Step.index, value, name) of a tensor named like a loss, when it changed."""
        self._last_loss_key: tuple[str, int, str | None, float] | None = None
        self.loss_pick: str | None = None
        """A one-element tensor the user chose to plot as the loss (when the script never calls backward)."""

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def current(self) -> Step | None:
        return self.steps[self.index] if 0 <= self.index < len(self.steps) else None

    @property
    def at_end(self) -> bool:
        return self.index == len(self.steps) - 1

    def append(self, step: Step) -> None:
        """Record a new Step (it does not move the screen: see `go_last`)."""
        pos = len(self.steps)
        self.steps.append(step)
        text = step.stdout
        self._output.append(text)
        self._flags.extend((pos, f) for f in step.flags)
        if step.loss is not None:
            self._backward_losses.append((pos, step.index, step.loss, step.loss_name))
        for t in step.tensors:
            if _is_loss_name(t.name):
                value = loss_value(t)
                key = (t.name, t.version, t.grad_fn, value if value is not None else math.nan)
                if value is not None and key != self._last_loss_key:
                    self._tensor_losses.append((pos, step.index, value, t.name))
                    self._last_loss_key = key
                break
        if len(self.steps) > self.max_steps:
            self._drop(len(self.steps) - self.max_steps + self.max_steps // 10)

    def _drop(self, n: int) -> None:
        """Let the oldest `n` Steps go; positions of what they raised or printed become negative."""
        self._old_output = (self._old_output + "".join(self._output[:n]))[-MAX_OLD_OUTPUT:]
        del self.steps[:n]
        del self._output[:n]
        self._flags = [(pos - n, f) for pos, f in self._flags]
        self._backward_losses = [(pos - n, *rest) for pos, *rest in self._backward_losses]
        self._tensor_losses = [(pos - n, *rest) for pos, *rest in self._tensor_losses]
        if self.index >= 0:
            self.index = max(0, self.index - n)
        self.dropped += n

    def go_last(self) -> None:
        self.index = len(self.steps) - 1

    def back(self) -> bool:
        if self.index <= 0:
            return False
        self.index -= 1
        return True

    def forward(self) -> bool:
        if self.index >= len(self.steps) - 1:
            return False
        self.index += 1
        return True

    def previous(self) -> Step | None:
        """The pause before the one on screen."""
        return self.steps[self.index - 1] if self.index > 0 else None

    def baseline(self) -> Step | None:
        """The previous pause in the same call as the Step on screen (what 'changed' is relative to)."""
        return same_frame_before(self.steps, self.index)

    def output(self) -> str:
        """Everything the script printed up to the Step on screen."""
        if self.index < 0:
            return self._old_output if self.dropped else ""
        return self._old_output + "".join(self._output[: self.index + 1])

    def flags(self) -> list[tuple[int, Flag]]:
        """(step position, flag) raised up to the Step on screen, newest first."""
        return [pf for pf in reversed(self._flags) if pf[0] <= self.index]

    def flag_lines(self, file: str, main: str) -> dict[int, str]:
        """Line → worst severity flagged there so far, for lines of `file` (`main`: the script's name)."""
        worst: dict[int, str] = {}
        for _, flag in self.flags():
            if (flag.file or main) == file:
                old = worst.get(flag.line)
                if old is None or _SEVERITY_RANK.get(flag.severity, 3) < _SEVERITY_RANK.get(old, 3):
                    worst[flag.line] = flag.severity
        return worst

    def loss_series(self) -> tuple[str | None, Series]:
        """The loss curve up to the Step on screen and its name: the scalar `backward()` was called on
        (Step.loss); else the tensor the user picked (`loss_pick`); else a tensor named like a loss."""
        points = [(i, v, name) for pos, i, v, name in self._backward_losses if pos <= self.index]
        if points:
            return points[-1][2], [(i, v) for i, v, _ in points]
        if self.loss_pick is not None:
            return self.loss_pick, self.value_series(self.loss_pick)
        shown = [(i, v, name) for pos, i, v, name in self._tensor_losses if pos <= self.index]
        return (shown[-1][2] if shown else None), [(i, v) for i, v, _ in shown]

    def value_series(self, name: str) -> Series:
        """The values of the one-element tensor `name` over the Steps up to the one on screen (one point
        each time it changed)."""
        out: Series = []
        last: tuple[int, str | None, float] | None = None
        for step in self.steps[: self.index + 1]:
            t = step.tensor(name)
            value = loss_value(t) if t is not None else None
            if t is None or value is None:
                continue
            key = (t.version, t.grad_fn, value)
            if key != last:
                out.append((step.index, value))
                last = key
        return out

    def grad_norm_series(self, name: str) -> Series:
        """The norm of `name`'s `.grad` over the Steps up to the one on screen (one point each time it
        changed)."""
        out: Series = []
        for step in self.steps[: self.index + 1]:
            t = step.tensor(name)
            norm = t.grad.norm if t is not None and t.grad is not None else None
            if norm is not None and (not out or out[-1][1] != norm):
                out.append((step.index, norm))
        return out
