"""Benchmark workload: a minGPT-like character model learning 2-digit addition (minGPT's `projects/adder`).

As in minGPT, the dataset's `__getitem__` masks the target's input positions in place
(`y[:ndigit * 2 - 1] = -1`) for every sample of every batch, while the trainer's frame holds the last
step's `loss` and its (freed) graph.
"""

import math
import os
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, RandomSampler


class AdditionDataset(torch.utils.data.Dataset):
    """`a + b = c` as digits: a and b with `ndigit` digits each, c reversed (as minGPT writes it)."""

    def __init__(self, ndigit: int) -> None:
        self.ndigit = ndigit
        self.ixes = torch.randperm((10 ** ndigit) ** 2, generator=torch.Generator().manual_seed(1337))

    def __len__(self) -> int:
        return self.ixes.nelement()

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        ndigit = self.ndigit
        idx = self.ixes[idx].item()
        a, b = divmod(idx, 10 ** ndigit)
        c = a + b
        render = f"%0{ndigit}d" % a + f"%0{ndigit}d" % b + (f"%0{ndigit + 1}d" % c)[::-1]
        dix = [int(s) for s in render]
        x = torch.tensor(dix[:-1], dtype=torch.long)
        y = torch.tensor(dix[1:], dtype=torch.long)
        y[:ndigit * 2 - 1] = -1  # only the answer's positions are trained
        return x, y


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, block_size: int) -> None:
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head, self.n_embd = n_head, n_embd
        self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size,
                                                                                         block_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, block_size: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """gpt-nano: 3 layers, 3 heads, 48 embedding dimensions."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 3, n_head: int = 3,
                 n_embd: int = 48) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head, block_size) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pos = torch.arange(0, idx.size(1), dtype=torch.long).unsqueeze(0)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
ndigit = 2
train = AdditionDataset(ndigit)
model = GPT(vocab_size=10, block_size=3 * ndigit)
opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
loader = DataLoader(train, sampler=RandomSampler(train, replacement=True, num_samples=10**10),
                    batch_size=64, num_workers=0)
opt.step()  # no gradients yet, so no change: the first step's one-off imports are startup
cpu0, wall0 = time.process_time(), time.perf_counter()  # the loop only: startup excluded
batches = iter(loader)
for step in range(steps):
    x, y = next(batches)
    logits, loss = model(x, y)
    model.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
loop_cpu, loop_wall = time.process_time() - cpu0, time.perf_counter() - wall0
if os.environ.get("TENSORSCOPE_BENCH_LOOP"):
    with open(os.environ["TENSORSCOPE_BENCH_LOOP"], "w") as out:
        out.write(f"{loop_cpu} {loop_wall}\n")
print(f"final loss {loss.item():.4f}")
