"""Padded, masked document batches and the state helpers of the sequence family."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from charzoo.data import Corpus
from charzoo.tokenizer import BOUNDARY_ID

# ids per scoring forward pass: small enough for the activations to stay in cache (65536
# ran 2-2.5x slower than 4096 for the GRU, RNN, BoW and Transformer on CPU, see benchmarks/speed.py)
_SCORE_TOKENS = 4096
_SCORE_CHUNK = 1024  # time steps per forward pass when a long text carries its state
_EVAL_TOKENS = 32768  # validation targets per evaluation during training
_EVAL_SEGMENT = 2048  # stream validation is scored in pieces of this length side by side
_IGNORE = -100


def detach_state(state: object) -> object:
    """Detach every tensor of a (nested tuple/list) state from the autograd graph."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


def _block_size(module: torch.nn.Module) -> int | None:
    return getattr(module, "block_size", None)


def _inputs_at(
    corpus: Corpus, pos: torch.Tensor, starts: torch.Tensor | None = None
) -> torch.Tensor:
    """Input ids (int64) at flat target positions ``pos``: the previous target of the same
    text, or the boundary id at a text's first target. Gathered per batch, so no shifted copy
    of the corpus is ever made."""
    prev = corpus.targets[(pos - 1).clamp(min=0)].long()
    starts = corpus.starts if starts is None else starts
    if len(starts) == 1:
        return prev.masked_fill_(pos == 0, BOUNDARY_ID)
    text = (torch.searchsorted(starts, pos, right=True) - 1).clamp(min=0)
    return prev.masked_fill_(starts[text] == pos, BOUNDARY_ID)


def _padded(
    corpus: Corpus,
    index: torch.Tensor,
    offsets: torch.Tensor | None = None,
    starts: torch.Tensor | None = None,
    width: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``(B, T)``, targets ``(B, T)`` (padding = -100) and flat target positions of the
    texts ``index`` (from ``offsets`` into each text, default 0), right-padded to the longest
    (or to ``width``), on the device of ``index``."""
    starts = corpus.starts if starts is None else starts
    lengths = corpus.lengths[index]
    if offsets is not None:
        lengths = lengths - offsets
    if width is None:
        width = max(1, int(lengths.max()))
    steps = torch.arange(width, device=index.device)
    inner = steps + (offsets[:, None] if offsets is not None else 0)
    pos = starts[index][:, None] + inner
    mask = steps < lengths[:, None]
    pos = torch.where(mask, pos, 0)
    previous = corpus.targets[(pos - 1).clamp(min=0)].long()
    x = torch.where(mask & (inner > 0), previous, BOUNDARY_ID)
    y = torch.where(mask, corpus.targets[pos].long(), _IGNORE)
    return x, y, pos


def _chunks(n_items: int, sizes: torch.Tensor, budget: int) -> Iterator[slice]:
    """Consecutive slices of items sorted by ascending ``sizes`` with ``rows * max <= budget``."""
    i = 0
    while i < n_items:
        j = min(n_items, i + max(1, budget // max(1, int(sizes[i]))))
        while j > i + 1 and (j - i) * int(sizes[j - 1]) > budget:
            j = i + max(1, budget // max(1, int(sizes[j - 1])))
        yield slice(i, j)
        i = j
