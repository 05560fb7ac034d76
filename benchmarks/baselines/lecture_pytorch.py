"""Straightforward PyTorch baselines in the style of the makemore lectures and script.

What "straightforward" means here, the way the lecture notebooks and ``makemore.py`` are
written:

- **training**: a Python loop over steps drawing each batch from a ``Dataset`` whose
  ``__getitem__`` builds one example from Python lists (``makemore.py``'s ``CharDataset`` and
  its ``InfiniteDataLoader`` with no workers), hand-written modules (recurrent cells stepped by
  a Python loop over time, attention written out with ``masked_fill`` + ``softmax``, the
  bag of words as a ``tril`` averaging matrix), AdamW with makemore's settings;
- **sampling**: one name at a time, the context kept in a Python list and the whole context
  recomputed at every step;
- **scoring**: a Python loop over the texts, one forward pass per text.

The modules have the same architecture and the same number of parameters as charzoo's
defaults (checked by ``benchmarks/speed.py``). Sampling and scoring run charzoo's *trained*
module through these loops, so both sides sample the same distribution and the ratio measures
the loops alone.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

__all__ = [
    "LectureBoW",
    "LectureMLP",
    "LectureRecurrent",
    "LectureTransformer",
    "SequenceDataset",
    "WindowDataset",
    "generate_batch_full_context",
    "sample_one_by_one",
    "score_per_text",
    "train_step_times",
]


# ----------------------------------------------------------------------------------- data
class WindowDataset(Dataset):
    """(context, next id) examples; each built on request from the word with Python lists."""

    def __init__(self, words: list[str], stoi: dict[str, int], block_size: int) -> None:
        self.words, self.stoi, self.block_size = words, stoi, block_size
        self.examples = [(i, p) for i, w in enumerate(words) for p in range(len(w) + 1)]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        i, p = self.examples[k]
        ids = [self.stoi[ch] for ch in self.words[i]] + [0]
        context = ([0] * self.block_size + ids)[p : p + self.block_size]
        return torch.tensor(context), torch.tensor(ids[p])


class SequenceDataset(Dataset):
    """makemore's ``CharDataset``: each word padded to the longest word + 1, targets -1 after
    the end marker."""

    def __init__(self, words: list[str], stoi: dict[str, int]) -> None:
        self.words, self.stoi = words, stoi
        self.max_len = max(len(w) for w in words)

    def __len__(self) -> int:
        return len(self.words)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        ix = torch.tensor([self.stoi[ch] for ch in self.words[k]], dtype=torch.long)
        x = torch.zeros(self.max_len + 1, dtype=torch.long)
        y = torch.zeros(self.max_len + 1, dtype=torch.long)
        x[1 : 1 + len(ix)] = ix
        y[: len(ix)] = ix
        y[len(ix) + 1 :] = -1  # mask the loss after the end marker
        return x, y


# -------------------------------------------------------------------------------- modules
class LectureMLP(nn.Module):
    """Bengio MLP as in lecture 2: embed, concatenate, tanh layer(s), logits."""

    def __init__(self, vocab: int, block_size: int, n_embd: int, n_hidden: int, n_layers: int):
        super().__init__()
        self.C = nn.Embedding(vocab, n_embd)
        widths = [block_size * n_embd] + [n_hidden] * n_layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(n_hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.C(x).view(x.shape[0], -1)
        for layer in self.hidden:
            h = torch.tanh(layer(h))
        return self.out(h)


class _Cell(nn.Module):
    """One recurrent cell written out (the same equations and parameters as torch's layers)."""

    gates = {"rnn": 1, "gru": 3, "lstm": 4}

    def __init__(self, kind: str, n_in: int, n_hidden: int) -> None:
        super().__init__()
        self.kind = kind
        self.ih = nn.Linear(n_in, self.gates[kind] * n_hidden)
        self.hh = nn.Linear(n_hidden, self.gates[kind] * n_hidden)

    def forward(self, x: torch.Tensor, h, c=None):
        if self.kind == "rnn":
            return torch.tanh(self.ih(x) + self.hh(h)), None
        if self.kind == "gru":
            xr, xz, xn = self.ih(x).chunk(3, 1)
            hr, hz, hn = self.hh(h).chunk(3, 1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            return (1 - z) * n + z * h, None
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class LectureRecurrent(nn.Module):
    """makemore's RNN: a Python loop over time stepping hand-written cells, layer by layer."""

    def __init__(self, kind, vocab, n_embd, n_hidden, n_layers, dropout) -> None:
        super().__init__()
        self.n_hidden = n_hidden
        self.wte = nn.Embedding(vocab, n_embd)
        sizes = [n_embd] + [n_hidden] * (n_layers - 1)
        self.cells = nn.ModuleList(_Cell(kind, s, n_hidden) for s in sizes)
        self.drop = nn.Dropout(dropout)
        self.lm_head = nn.Linear(n_hidden, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        x = self.drop(self.wte(idx))
        for layer, cell in enumerate(self.cells):
            h = x.new_zeros(B, self.n_hidden)
            c = x.new_zeros(B, self.n_hidden)
            hiddens = []
            for t in range(T):
                h, c = cell(x[:, t, :], h, c)
                hiddens.append(h)
            x = torch.stack(hiddens, 1)
            if layer < len(self.cells) - 1:
                x = self.drop(x)
        return self.lm_head(self.drop(x))


class LectureBoW(nn.Module):
    """Causal bag of words with the lecture's averaging matrix ``tril / rowsum`` (T x T)."""

    def __init__(self, vocab: int, n_embd: int, n_hidden: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.ln = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, n_hidden)
        self.proj = nn.Linear(n_hidden, n_embd)
        self.lm_head = nn.Linear(n_embd, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.wte(idx)
        wei = torch.tril(torch.ones(T, T))
        wei = wei / wei.sum(1, keepdim=True)
        h = x + wei @ x
        h = h + self.proj(torch.tanh(self.fc(self.ln(h))))
        return self.lm_head(h)


class _SelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float) -> None:
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.attn_drop, self.resid_drop = nn.Dropout(dropout), nn.Dropout(dropout)
        self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:T, :T] == 0, float("-inf"))
        att = self.attn_drop(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.c_proj(y))


class _Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float) -> None:
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = _SelfAttention(n_embd, n_head, block_size, dropout)
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.c_proj = nn.Linear(4 * n_embd, n_embd)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.drop(self.c_proj(F.gelu(self.c_fc(self.ln_2(x)))))


class LectureTransformer(nn.Module):
    """makemore's / minGPT's Transformer: pre-LN blocks, attention written out, tied head."""

    def __init__(self, vocab, block_size, n_layer, n_head, n_embd, dropout) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, n_embd), nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList(_Block(n_embd, n_head, block_size, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(0, idx.shape[1], dtype=torch.long).unsqueeze(0)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


# ------------------------------------------------------------------------------- training
def train_step_times(
    module: nn.Module, dataset: Dataset, batch_size: int, steps: int, lr: float = 1e-3
) -> list[float]:
    """Seconds of each of ``steps`` makemore-style training steps (batch, forward, backward,
    AdamW step), drawing batches from ``dataset`` with a ``DataLoader`` and no workers."""
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8
    )
    sampler = RandomSampler(dataset, replacement=True, num_samples=int(1e10))
    batches = iter(DataLoader(dataset, sampler=sampler, batch_size=batch_size, num_workers=0))
    module.train()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        x, y = next(batches)
        logits = module(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1)
        module.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


# ------------------------------------------------------------------- sampling and scoring
@torch.no_grad()
def sample_one_by_one(
    next_logits, start: list[int], n: int, max_new: int, generator: torch.Generator
) -> list[list[int]]:
    """Sample ``n`` names one at a time; ``next_logits(context_list)`` recomputes the whole
    context at every step and returns the next-id logits ``(V,)``."""
    names = []
    for _ in range(n):
        context, out = list(start), []
        for _ in range(max_new):
            probs = F.softmax(next_logits(context), dim=-1)
            ix = torch.multinomial(probs, num_samples=1, generator=generator).item()
            if ix == 0:
                break
            out.append(ix)
            context.append(ix)
        names.append(out)
    return names


@torch.no_grad()
def generate_batch_full_context(
    module: nn.Module, n: int, steps: int, block_size: int | None, generator: torch.Generator
) -> list[list[int]]:
    """makemore's ``generate``: ``n`` rows sampled together for a fixed number of ``steps``,
    each step running the module over the whole (cropped) context and keeping the last
    position; names are cut at their first end marker afterwards. ``module(idx)`` returns
    ``(logits, state)`` as charzoo's sequence modules do."""
    idx = torch.zeros(n, 1, dtype=torch.long)
    for _ in range(steps):
        context = idx if block_size is None or idx.shape[1] <= block_size else idx[:, -block_size:]
        probs = F.softmax(module(context)[0][:, -1], dim=-1)
        idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)
    rows = []
    for row in idx[:, 1:].tolist():
        rows.append(row[: row.index(0)] if 0 in row else row)
    return rows


@torch.no_grad()
def score_per_text(text_nll, texts: list[list[int]]) -> tuple[float, int]:
    """Total NLL and number of predictions, one forward pass per text:
    ``text_nll(ids)`` returns the summed NLL of ``ids`` followed by the end marker."""
    total, count = 0.0, 0
    for ids in texts:
        total += float(text_nll(ids))
        count += len(ids) + 1
    return total, count


def window_functions(module: nn.Module, block_size: int):
    """``(next_logits, text_nll, start)`` of a window module (contexts of ``block_size``)."""

    def next_logits(context: list[int]) -> torch.Tensor:
        return module(torch.tensor([context[-block_size:]]))[0]

    def text_nll(ids: list[int]) -> torch.Tensor:
        context, xs = [0] * block_size, []
        for ix in ids + [0]:
            xs.append(context[-block_size:])
            context = context + [ix]
        logits = module(torch.tensor(xs))
        return F.cross_entropy(logits, torch.tensor(ids + [0]), reduction="sum")

    return next_logits, text_nll, [0] * block_size


def sequence_functions(module: nn.Module, block_size: int | None):
    """``(next_logits, text_nll, start)`` of a charzoo sequence module (``logits, state =
    module(idx)``), recomputing the whole (cropped) context every call."""

    def run(ids: list[int]) -> torch.Tensor:
        ids = ids[-block_size:] if block_size else ids
        return module(torch.tensor([ids]))[0][0]

    def next_logits(context: list[int]) -> torch.Tensor:
        return run(context)[-1]

    def text_nll(ids: list[int]) -> torch.Tensor:
        return F.cross_entropy(run([0] + ids), torch.tensor(ids + [0]), reduction="sum")

    return next_logits, text_nll, [0]
