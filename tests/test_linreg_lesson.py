"""The main demo teaches what it promises: grads fill at backward, params move at the update, grads zero."""

from __future__ import annotations

from tensorscope.diff import diff_steps
from tensorscope.engine import Session


def test_every_epoch_fills_updates_and_zeroes() -> None:
    trace = Session("linreg").record()
    assert trace.completed and trace.flags == ()
    source = trace.source

    def ran(step_code: str) -> list[int]:
        return [i for i, s in enumerate(trace.steps)
                if s.prev_line and source[s.prev_line - 1].strip().startswith(step_code)]

    backward, update_w, zero_w = ran("loss.backward()"), ran("w -= lr * w.grad"), ran("w.grad.zero_()")
    assert len(backward) == len(update_w) == len(zero_w) == 5
    for b, u, z in zip(backward, update_w, zero_w, strict=True):
        after_backward = trace.steps[b]
        changes = {(c.name, c.kind) for c in diff_steps(trace.steps[b - 1], after_backward)}
        assert {("w", "grad"), ("b", "grad")} <= changes
        assert after_backward.tensor("w").grad.norm > 0
        w_before, w_after = trace.steps[u - 1].tensor("w"), trace.steps[u].tensor("w")
        assert w_after.preview != w_before.preview and w_after.version > w_before.version
        assert w_after.grad_fn is None
        assert trace.steps[z].tensor("w").grad.norm == 0
        assert trace.steps[z + 1].tensor("b").grad.norm == 0
