"""The recorded Steps of one run and what the panes derive from them (output so far, loss curve, flags).

Plain Python, no UI: step back is an index minus one, and every pane reads the Step at that index.
"""

from __future__ import annotations

import re

from tensorscope.diff import same_frame_before
from tensorscope.model import Flag, Step, TensorView

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

_PRINTED_LOSS = re.compile(r"loss\W{0,3}?\s*[:=]?\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)",
                           re.IGNORECASE)


def loss_value(t: TensorView) -> float | None:
    """The value of a one-element tensor, from its preview (or its mean), else None."""
    if t.numel != 1:
        return None
    if t.preview is not None:
        text = t.preview.strip("[]() ")
        try:
            return float(text)
        except ValueError:
            pass
    return t.stats.mean if t.stats is not None else None


def _is_loss_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1].lower()
    return last == "loss" or last.endswith("_loss") or last.startswith("loss_")


def printed_losses(text: str) -> list[float]:
    """Loss values printed by the script (`Loss: 0.25`, `loss=1e-3`)."""
    out = []
    for m in _PRINTED_LOSS.finditer(text):
        try:
            out.append(float(m.group(1)))
        except ValueError:
            continue
    return out


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
        self._output_end: list[int] = []
        """Length of the output printed up to and including each step."""
        self._flags: list[tuple[int, Flag]] = []
        self._tensor_losses: list[tuple[int, float]] = []
        self._printed_losses: list[tuple[int, float]] = []
        self._last_loss_text: str | None = None
        self._total = 0

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
        self._total += len(text)
        self._output_end.append(self._total)
        self._flags.extend((pos, f) for f in step.flags)
        for t in step.tensors:
            if _is_loss_name(t.name):
                value = loss_value(t)
                key = f"{t.name}={t.preview}:{t.version}:{t.grad_fn}"
                if value is not None and key != self._last_loss_text:
                    self._tensor_losses.append((pos, value))
                    self._last_loss_text = key
                break
        self._printed_losses.extend((pos, v) for v in printed_losses(text))
        if len(self.steps) > self.max_steps:
            self._drop(len(self.steps) - self.max_steps + self.max_steps // 10)

    def _drop(self, n: int) -> None:
        """Let the oldest `n` Steps go; positions of what they raised or printed become negative."""
        self._old_output = (self._old_output + "".join(self._output[:n]))[-MAX_OLD_OUTPUT:]
        del self.steps[:n]
        del self._output[:n]
        del self._output_end[:n]
        self._flags = [(pos - n, f) for pos, f in self._flags]
        self._tensor_losses = [(pos - n, v) for pos, v in self._tensor_losses]
        self._printed_losses = [(pos - n, v) for pos, v in self._printed_losses]
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

    def output_length(self) -> int:
        return self._output_end[self.index] if self.index >= 0 else 0

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

    def losses(self) -> list[float]:
        """The loss curve up to the Step on screen: a `loss` tensor's values, or the printed ones when
        there are more of those (after `continue`, the tensor was only seen at the pauses)."""
        from_tensor = [v for pos, v in self._tensor_losses if pos <= self.index]
        printed = [v for pos, v in self._printed_losses if pos <= self.index]
        return printed if len(printed) > len(from_tensor) else from_tensor
