"""`nan-inf` and infinities put there on purpose: attention masks and padding written with -inf are not
flagged; NaN and Inf that arise from arithmetic still are, at the line where they arise, in every mode."""

from __future__ import annotations

import gc
import string
import textwrap
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from cli_runs import tensorscope_here
from forked_python import forked_python

from tensorscope.checks import default_checks
from tensorscope.checks.support.deliberate_inf import Marked
from tensorscope.engine.sampling import EVERY, FULL_PASSES
from tensorscope.engine.session import Session
from tensorscope.explain.catalogue import VARIANTS, render
from tensorscope.model import Flag, Trace

Write = Callable[..., Path]
REPO = Path(__file__).resolve().parent.parent
PASSES = FULL_PASSES + EVERY + 7
"""Enough passes of a loop for `check` to leave some unobserved."""
MODES = ["check", "every-pass", "trace"]


def run(path: Path, mode: str) -> Trace:
    """The trace of `path` as `check` (sampled passes), `check --every-pass` or `trace`/the TUI give it."""
    session = Session(str(path), monitors=default_checks(), keep_steps=mode == "trace")
    trace = session.record(timeout=120) if mode == "trace" else session.run(every_pass=mode == "every-pass")
    assert session.internal_errors == []
    assert trace.completed
    return trace


def nan_inf(trace: Trace) -> dict[str, Flag]:
    flags = [f for f in trace.flags if f.code == "nan-inf"]
    by_name = {f.tensors[0]: f for f in flags}
    assert len(by_name) == len(flags)  # once per name
    return by_name


def line_of(path: Path, marker: str) -> int:
    hits = [i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text]
    assert len(hits) == 1, hits
    return hits[0]


ATTENTION = """
    import math
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class CausalSelfAttention(nn.Module):
        def __init__(self, n_embd, n_head, block_size):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.n_head = n_head
            self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size))
                                 .view(1, 1, block_size, block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(C, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))
            att = F.softmax(att, dim=-1)                                        # <- softmax
            y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)


    torch.manual_seed(0)
    model = CausalSelfAttention(16, 2, 8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(4, 8, 16)
    for step in range(STEPS):
        out = model(x)
        loss = out.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(round(loss.item(), 4))
"""


_PLAIN_STDOUT: dict[str, str] = {}


def plain_stdout(path: Path) -> str:
    """What `python SCRIPT` prints, once per script text in this process (the output names no path)."""
    source = path.read_text(encoding="utf-8")
    if source not in _PLAIN_STDOUT:
        plain = forked_python(path)
        assert plain.returncode == 0, plain.stderr
        _PLAIN_STDOUT[source] = plain.stdout
    return _PLAIN_STDOUT[source]


@pytest.mark.xdist_group("nan-inf-attention")  # one worker: every-pass and trace run the same script
@pytest.mark.parametrize("mode", MODES)
def test_causal_self_attention_training_is_clean(write_script: Write, mode: str) -> None:
    steps = PASSES if mode == "check" else 5  # (only `check` samples: enough passes to leave some unobserved)
    path = write_script(ATTENTION.replace("STEPS", str(steps)))
    trace = run(path, mode)
    assert nan_inf(trace) == {}
    assert trace.stdout == plain_stdout(path)


def test_check_command_exits_0_on_causal_self_attention(write_script: Write) -> None:
    path = write_script(ATTENTION.replace("STEPS", "3"))
    proc = tensorscope_here("check", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nan-inf" not in proc.stdout and "0 warnings" in proc.stdout


@pytest.mark.parametrize("mode", MODES)
def test_a_fully_masked_row_makes_softmax_nan_and_is_flagged(write_script: Write, mode: str) -> None:
    source = ATTENTION.replace("STEPS", "3").replace(
        "self.bias[:, :, :T, :T] == 0", "(self.bias[:, :, :T, :T] == 0) | (torch.arange(T) == 0).view(T, 1)")
    path = write_script(source)
    flags = nan_inf(run(path, mode))
    att = flags["att"]
    assert att.line == line_of(path, "# <- softmax")
    assert att.data["what"] == "NaN" and att.data["inf"] == "0"
    assert (att.data["variant"], att.data["mask"]) == ("from-mask", "att")
    assert "made from the -inf that att holds on purpose" in att.message
    assert "att 中有意放入的 -inf" in render("nan-inf", "zh", att.data).message


@pytest.mark.parametrize("mode", MODES)
def test_log_of_zero_is_still_flagged(write_script: Write, mode: str) -> None:
    path = write_script("""
        import torch
        mask = torch.full((2, 2), float('-inf')).triu(1)
        p = torch.zeros(1)
        logp = torch.log(p)                      # <- here
        print(logp, mask.softmax(-1))
    """)
    flags = nan_inf(run(path, mode))
    assert list(flags) == ["logp"]
    assert flags["logp"].line == line_of(path, "# <- here") and flags["logp"].data["what"] == "Inf"


@pytest.mark.parametrize("mode", MODES)
def test_overflow_is_still_flagged(write_script: Write, mode: str) -> None:
    path = write_script("""
        import torch
        neg = float('-inf')
        scores = torch.zeros(3).masked_fill(torch.tensor([False, True, True]), neg)
        big = torch.tensor(1e38) * 10            # <- here
        print(big, scores.softmax(0))
    """)
    flags = nan_inf(run(path, mode))
    assert list(flags) == ["big"]
    assert flags["big"].line == line_of(path, "# <- here") and flags["big"].data["what"] == "Inf"


@pytest.mark.parametrize("mode", MODES)
def test_a_diverging_sgd_loop_next_to_a_mask_is_still_flagged(write_script: Write, mode: str) -> None:
    path = write_script(f"""
        import torch
        mask = torch.triu(torch.full((3, 3), float('-inf')), diagonal=1)
        x = torch.linspace(0, 10, 8)
        y = 2 * x + 1
        w = torch.zeros(1, requires_grad=True)
        for step in range({PASSES}):
            att = torch.softmax(torch.zeros(3, 3) + mask, dim=-1)
            loss = ((x * w - y) ** 2).mean()       # <- loss
            loss.backward()
            with torch.no_grad():
                w -= 1.0 * w.grad                   # <- update
                w.grad.zero_()
    """)
    flags = nan_inf(run(path, mode))
    assert flags["loss"].line == line_of(path, "# <- loss")
    assert flags["w"].line == line_of(path, "# <- update")
    assert "att" not in flags and "mask" not in flags


DELIBERATE = {
    "masked_fill_minus_math_inf": """
        import math
        import torch
        scores = torch.randn(4, 4)
        scores = scores.masked_fill(torch.ones(4, 4).triu(1).bool(), -math.inf)
        att = scores.softmax(-1)
    """,
    "minus_torch_inf_in_place": """
        import torch
        scores = torch.randn(4, 4)
        scores.masked_fill_(torch.ones(4, 4).triu(1).bool(), -torch.inf)
        att = scores.softmax(-1)
    """,
    "full_then_triu_on_a_second_line": """
        import torch
        mask = torch.full((4, 4), float("-inf"))
        mask = torch.triu(mask, diagonal=1)
        scores = torch.randn(4, 4) + mask
        att = torch.softmax(scores, dim=-1)
    """,
    "a_constant_defined_elsewhere": """
        import torch
        NEG_INF = float("-inf")
        scores = torch.randn(4, 4)
        scores = torch.where(torch.ones(4, 4).tril().bool(), scores, NEG_INF)
        att = scores.softmax(-1)
    """,
    "a_registered_buffer_used_in_forward": """
        import torch
        from torch import nn

        class Attn(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.register_buffer("mask", torch.triu(torch.full((n, n), float("-inf")), 1))

            def forward(self, s):
                s = s + self.mask
                return s.softmax(-1)

        model = Attn(4)
        for _ in range(3):
            out = model(torch.randn(4, 4))
    """,
    "indexed_assignment_as_padding": """
        import torch
        pad = torch.zeros(2, 5)
        pad[:, 3:] = float('-inf')
        logits = torch.randn(2, 5) + pad
        probs = torch.log_softmax(logits, dim=1)
    """,
    "a_helper_returning_the_mask": """
        import torch

        def causal_mask(n):
            return torch.triu(torch.full((n, n), float("-inf")), diagonal=1)

        mask = causal_mask(4)
        scores = torch.randn(4, 4) + mask
        att = scores.softmax(-1)
    """,
    "a_helper_building_the_mask_over_lines": """
        import torch

        def make_mask(n):
            full = torch.full((n, n), float('-inf'))
            return torch.triu(full, diagonal=1)

        for step in range(3):
            mask = make_mask(4)
            scores = torch.randn(4, 4) + mask
            att = scores.softmax(-1)
    """,
    "a_method_mask_added_in_forward": """
        import torch
        from torch import nn

        class Attn(nn.Module):
            def causal(self, n):
                m = torch.ones(n, n, dtype=torch.bool).triu(1)
                return torch.zeros(n, n).masked_fill(m, -torch.inf)

            def forward(self, q, k):
                att = q @ k.T
                att = att + self.causal(q.shape[0])
                att = att / 2
                return att.softmax(-1)

        out = Attn()(torch.randn(4, 8), torch.randn(4, 8))
    """,
    "generate_square_subsequent_mask": """
        import torch
        from torch import nn
        mask = nn.Transformer.generate_square_subsequent_mask(4)
        scores = torch.randn(4, 4) + mask
        att = scores.softmax(-1)
    """,
    "pad_value": """
        import torch
        import torch.nn.functional as F
        x = F.pad(torch.randn(2, 3), (0, 2), value=float('-inf'))
        pooled = x.max(dim=1).values
    """,
}


@pytest.mark.parametrize("name", sorted(DELIBERATE))
@pytest.mark.parametrize("mode", ["check", "trace"])
def test_deliberate_infinities_are_not_flagged(write_script: Write, name: str, mode: str) -> None:
    path = write_script(textwrap.dedent(DELIBERATE[name]))
    assert nan_inf(run(path, mode)) == {}


@pytest.mark.parametrize("mode", MODES)
def test_nan_made_from_a_deliberate_mask_is_flagged(write_script: Write, mode: str) -> None:
    path = write_script("""
        import torch
        mask = torch.triu(torch.full((3, 3), float("-inf")), diagonal=1)
        both = mask - mask                       # <- here: -inf - -inf is NaN
        print(both.isnan().sum().item())
    """)
    flags = nan_inf(run(path, mode))
    assert list(flags) == ["both"]
    assert flags["both"].line == line_of(path, "# <- here") and flags["both"].data["what"] == "NaN"
    assert flags["both"].data["mask"] == "mask"


def test_a_line_writing_inf_still_flags_the_nan_it_makes(write_script: Write) -> None:
    path = write_script("""
        import torch
        zero = torch.tensor([float('inf'), 1.0]) * 0     # <- here: inf * 0 is NaN
    """)
    flags = nan_inf(run(path, "check"))
    assert flags["zero"].line == line_of(path, "# <- here") and flags["zero"].data["what"] == "NaN"
    assert "variant" not in flags["zero"].data  # no tensor holding -inf on purpose went into it


def test_an_inf_from_arithmetic_on_an_unmarked_tensor_is_flagged_after_a_mask(write_script: Write) -> None:
    path = write_script("""
        import torch
        mask = torch.full((2,), float('-inf'))
        h = torch.tensor([3e38, 1.0])
        h = h * 2                                # <- here
        print(mask, h)
    """)
    flags = nan_inf(run(path, "check"))
    assert list(flags) == ["h"] and flags["h"].line == line_of(path, "# <- here")


@pytest.mark.parametrize("mode", ["check", "trace"])
def test_a_loss_that_picks_a_masked_position_is_flagged(write_script: Write, mode: str) -> None:
    path = write_script("""
        import torch
        import torch.nn.functional as F
        logits = torch.randn(2, 4).masked_fill(torch.tensor([False, False, True, True]), float('-inf'))
        logp = F.log_softmax(logits, dim=1)
        loss = F.nll_loss(logp, torch.tensor([0, 3]))     # <- here: class 3 is masked
        print(loss.item())
    """)
    flags = nan_inf(run(path, mode))
    assert list(flags) == ["loss"]
    assert flags["loss"].line == line_of(path, "# <- here") and flags["loss"].data["what"] == "Inf"


def test_the_from_mask_wording_has_the_same_placeholders_in_both_languages() -> None:
    entry = VARIANTS[("nan-inf", "from-mask")]
    for texts in (entry.title, entry.message, entry.cause, entry.fix):
        fields = [{f for _, f, _, _ in string.Formatter().parse(texts[lang]) if f} for lang in ("en", "zh")]
        assert texts["en"] != texts["zh"] and fields[0] == fields[1]


def test_marked_tensors_are_not_kept_alive() -> None:
    marked = Marked()
    t = torch.full((2,), float("-inf"))
    ref = weakref.ref(t)
    marked.add(t)
    assert t in marked and torch.zeros(2) not in marked
    del t
    gc.collect()
    assert ref() is None
    for _ in range(600):  # past the pruning threshold: dead entries go
        marked.add(torch.zeros(1))
    assert len(marked._refs) < 600
