"""`inplace-saved-tensor` probes the graphs in scope only when the changed tensor shares something a graph
could have saved (`y[:3] = -1` in a helper, a large model's loss in scope; `total += loss`)."""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from tensorscope.checks import inplace_saved_tensor
from tensorscope.checks.inplace_saved_tensor import InplaceSavedTensor, _alone, _storage_id
from tensorscope.engine.session import Session

Write = Callable[..., Path]


class CountingProbe(InplaceSavedTensor):
    """The real check, counting how often it walks the graphs in scope."""

    def __init__(self) -> None:
        super().__init__()
        self.probes = 0

    def _probe(self, ctx: Any, frame: types.FrameType, t: torch.Tensor,
               targets: frozenset[int] | None = None) -> Any:
        self.probes += 1
        return super()._probe(ctx, frame, t, targets)


def run_with_probe(path: Path) -> tuple[CountingProbe, list[str]]:
    check = CountingProbe()
    trace = Session(str(path), monitors=[check]).run(every_pass=True)
    assert trace.completed, trace.exception
    return check, [f.code for f in trace.flags]


HELPER = """
import torch

def masked(row):
    y = row.clone()
    y[:3] = -1
    return y

layers = []
for _ in range(8):
    layers += [torch.nn.Linear(16, 16), torch.nn.LayerNorm(16), torch.nn.GELU()]
loss = torch.nn.Sequential(*layers)(torch.randn(4, 16)).pow(2).mean()
rows = torch.randint(0, 10, (10, 8))
for step in range(50):
    y = masked(rows[step % 10])
loss.backward()
"""


class TestAlone:
    def test_a_fresh_tensor_shares_nothing(self) -> None:
        y = torch.tensor([1.0, 2.0, 3.0])
        assert _alone(y, _storage_id(y))

    def test_a_tensor_saved_by_a_graph_is_not_alone_until_the_graph_is_gone(self) -> None:
        w = torch.ones(3, requires_grad=True)
        y = torch.tensor([1.0, 2.0, 3.0])
        z = w * y  # MulBackward0 saves y for w's gradient
        assert not _alone(y, _storage_id(y))
        del z
        assert _alone(y, _storage_id(y))

    def test_views_aliases_and_saved_outputs_share_the_storage(self) -> None:
        y = torch.tensor([1.0, 2.0, 3.0])
        view = y[:2]
        assert not _alone(y, _storage_id(y)) and not _alone(view, _storage_id(view))
        del view
        alias = y.detach()  # shares y's version counter
        assert not _alone(y, _storage_id(y))
        del alias
        h = torch.ones(3, requires_grad=True).sigmoid()  # SigmoidBackward0 saves its output
        assert not _alone(h, _storage_id(h))

    def test_a_line_that_swaps_the_storage_is_probed(self) -> None:
        y = torch.tensor([1.0, 2.0, 3.0])
        before = _storage_id(y)
        y.set_(torch.zeros(3))
        assert not _alone(y, before)

    def test_tensors_without_plain_storage_are_always_probed(self) -> None:
        sparse = torch.eye(3).to_sparse()
        assert _storage_id(sparse) is None and not _alone(sparse, None)
        sub = torch.ones(3).as_subclass(type("Sub", (torch.Tensor,), {}))
        assert _storage_id(sub) is None


class TestProbes:
    def test_a_helper_masking_a_fresh_target_never_walks_the_models_graph(self, write_script: Write) -> None:
        check, flags = run_with_probe(write_script(HELPER))
        assert check.probes == 0 and flags == []

    def test_a_running_sum_of_losses_is_not_probed(self, write_script: Write) -> None:
        path = write_script(
            """
            import torch
            w = torch.ones(3, requires_grad=True)
            total = 0
            for _ in range(30):
                loss = (w * 2).sum()
                loss.backward()
                total += loss
            """
        )
        check, flags = run_with_probe(path)
        assert check.probes == 0 and flags == []

    def test_a_saved_view_of_the_changed_tensor_is_still_found(self, write_script: Write) -> None:
        path = write_script(
            """
            import torch
            w = torch.ones(2, requires_grad=True)
            y = torch.tensor([1.0, 2.0, 3.0])
            z = w * y[:2]
            y[:3] = -1
            try:
                z.sum().backward()
            except RuntimeError:
                pass
            """
        )
        check, flags = run_with_probe(path)
        assert check.probes >= 1 and flags == ["inplace-saved-tensor"]

    def test_a_saved_tensor_changed_in_a_helper_is_still_flagged(self, write_script: Write) -> None:
        path = write_script(
            """
            import torch

            def mask(y):
                y[:1] = -1

            w = torch.ones(3, requires_grad=True)
            y = torch.tensor([1.0, 2.0, 3.0])
            z = (w * y).sum()
            mask(y)
            """
        )
        check, flags = run_with_probe(path)
        assert check.probes == 1 and flags == ["inplace-saved-tensor"]


class TestReadOnce:
    def test_a_node_read_once_is_not_read_again_for_an_unrelated_tensor(self, write_script: Write,
                                                                          monkeypatch: Any) -> None:
        """Five changes of a tensor that shares its storage (so each is probed), a graph in scope that never
        saved it: the graph's saved tensors are read at the first probe only."""
        reads: list[int] = []
        real = inplace_saved_tensor._addresses

        def counting(value: Any, into: list[int]) -> list[int] | None:
            reads.append(1)
            return real(value, into)

        monkeypatch.setattr(inplace_saved_tensor, "_addresses", counting)
        path = write_script(
            """
            import torch
            w = torch.ones(3, requires_grad=True)
            z = (w.sigmoid() * torch.ones(3)).exp().sum()
            a = torch.zeros(3)
            view = a[:2]
            for i in range(5):
                a[:1] = i
            """
        )
        check, flags = run_with_probe(path)
        assert check.probes == 5 and flags == []
        first = len(reads)
        assert first > 0
        check, flags = run_with_probe(write_script(path.read_text().replace("range(5)", "range(1)")))
        assert len(reads) == 2 * first  # the same reads for one probe as for five

    def test_a_tensor_saved_by_a_node_read_before_is_still_flagged(self, write_script: Write) -> None:
        path = write_script(
            """
            import torch
            w = torch.ones(3, requires_grad=True)
            a = torch.zeros(3)
            view = a[:2]
            b = torch.tensor([1.0, 2.0, 3.0])
            z = (w * b).sum()
            a[:1] = 1
            b[:1] = -1
            """
        )
        check, flags = run_with_probe(path)
        assert check.probes == 2 and flags == ["inplace-saved-tensor"]
