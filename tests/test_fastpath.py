"""Library calls run untraced only when they cannot reach the user's code; long histories stay small."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from pathlib import Path

import torch

from tensorscope.engine import Session
from tensorscope.model import Step
from tensorscope.tui.history import History

Write = Callable[..., Path]


def lines_run(path: Path) -> set[int]:
    trace = Session(str(path)).record(timeout=60)
    assert trace.completed, trace.end_reason
    return {s.line for s in trace.steps if s.event == "line"}


class TestUserCodeStillStepped:
    def test_a_forward_of_the_users_module_is_stepped(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(2, 1)

                def forward(self, x):
                    return self.fc(x).relu()

            model = nn.Sequential(Net())
            out = model(torch.ones(3, 2))
        """)
        assert 10 in lines_run(path)

    def test_a_hook_of_the_users_on_a_library_module_is_stepped(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn

            def hook(module, args, out):
                return out * 2

            layer = nn.Linear(2, 1)
            layer.register_forward_hook(hook)
            out = layer(torch.ones(3, 2))
        """)
        assert 5 in lines_run(path)

    def test_an_optimizer_closure_of_the_users_is_stepped(self, write_script: Write) -> None:
        path = write_script("""
            import torch

            w = torch.zeros(2, requires_grad=True)
            opt = torch.optim.SGD([w], lr=0.1)

            def closure():
                opt.zero_grad()
                loss = (w - 1).pow(2).sum()
                loss.backward()
                return loss

            opt.step(closure)
        """)
        assert {7, 8, 9, 10} <= lines_run(path)

    def test_an_optimizer_step_that_raises_and_is_caught_leaves_tracing_on(self, write_script: Write) -> None:
        """PyTorch skips an optimizer's post-hooks when `step` raises: the raise is still seen, and the
        handler and what follows are stepped."""
        path = write_script("""
            import torch

            w = torch.zeros(3, requires_grad=True)
            opt = torch.optim.Adam([w], lr=0.1)
            w.grad = torch.ones(3).to_sparse()
            try:
                opt.step()
            except RuntimeError:
                caught = True
            after = 1
        """)
        trace = Session(str(path)).record(timeout=60)
        assert trace.completed, trace.end_reason
        assert {7, 8, 9, 10} <= {s.line for s in trace.steps if s.event == "line"}
        raised = [s.raised for s in trace.steps if s.raised is not None]
        assert [(r.type, r.line, r.caught_line) for r in raised] == [("RuntimeError", 7, 8)]

    def test_a_user_module_added_after_the_first_call_is_stepped(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            from torch import nn

            class Double(nn.Module):
                def forward(self, x):
                    return x * 2

            model = nn.Sequential(nn.Linear(2, 2))
            model(torch.ones(1, 2))
            model.insert(1, Double())
            model(torch.ones(1, 2))
        """)
        assert 6 in lines_run(path)

    def test_patches_are_gone_after_the_run(self, write_script: Write) -> None:
        before = (builtins.__import__, torch.nn.Module.__call__, torch.optim.SGD.zero_grad)
        path = write_script("""
            import torch
            opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
            opt.step()
        """)
        lines_run(path)
        assert (builtins.__import__, torch.nn.Module.__call__, torch.optim.SGD.zero_grad) == before


class TestCompactHistory:
    def test_unchanged_tensors_share_one_view(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.zeros(3)
            for i in range(3):
                y = w + i
        """)
        steps = Session(str(path)).record(timeout=60).steps
        views = [t for s in steps for t in s.tensors if t.name == "w"]
        assert len(views) > 3 and all(v is views[0] for v in views)

    def test_values_changed_through_data_are_seen(self, write_script: Write) -> None:
        path = write_script("""
            import torch
            w = torch.zeros(3, requires_grad=True)
            w.data += 1
            w.data += 1
            done = True
        """)
        steps = Session(str(path)).record(timeout=60).steps
        previews = [t.preview for s in steps for t in s.tensors if t.name == "w"]
        assert list(dict.fromkeys(previews)) == ["[0, 0, 0]", "[1, 1, 1]", "[2, 2, 2]"]

    def test_the_tui_history_keeps_the_last_steps(self) -> None:
        history = History(max_steps=100)
        for i in range(1000):
            history.append(Step(index=i, file="s.py", line=1, function="<module>", depth=0, stdout=f"{i}\n"))
            history.go_last()
        assert len(history) <= 100
        assert history.current is not None and history.current.index == 999
        assert history.output().endswith("998\n999\n")
        while history.back():
            pass
        assert history.current is not None and history.current.index >= 900
