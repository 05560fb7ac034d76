"""Padded, masked document batches and the state helpers of the sequence family."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch

from charzoo.data import Corpus
from charzoo.tokenizer import BOUNDARY_ID

# ids per scoring forward pass: small enough for the activations to stay in cache (65536
# ran 2-2.5x slower than 4096 for the GRU, RNN, BoW and Transformer on CPU, see benchmarks/speed.py)
_SCORE_TOKENS = 4096
_STATE_CHUNK_STEPS = 1024  # time steps per forward pass when a long text carries its state
_SEQUENCE_EVAL_TARGETS = 32768  # validation targets per evaluation during training
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


def _text_inputs(corpus: Corpus, pos: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """Input ids (int64) at flat target positions ``pos`` that lie ``inner`` targets into
    their text: the previous target, or the boundary id at a text's first target."""
    previous = corpus.targets[(pos - 1).clamp(min=0)].long()
    return torch.where(inner > 0, previous, BOUNDARY_ID)


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
    x = torch.where(mask, _text_inputs(corpus, pos, inner), BOUNDARY_ID)
    y = torch.where(mask, corpus.targets[pos].long(), _IGNORE)
    return x, y, pos


class Packing(NamedTuple):
    """Layout of a packed batch (several texts per row, see :func:`_packed`): for each slot,
    its position within its text's window (a text longer than the training length is
    cropped at a random offset, as in padded batches) and the number of its text (``-1`` in
    padding), both ``(R, W)`` int64. A module that accepts ``packing=`` restarts positions
    where a text starts and lets a slot attend only to earlier slots of its own text."""

    positions: torch.Tensor
    segments: torch.Tensor


def _first_fit_decreasing(lengths: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Place texts of ``lengths`` (each at most ``width``) in rows of ``width`` slots, longest
    first, each in the first row with room. Returns each text's row and column and the number
    of rows."""
    rows, cols = np.empty_like(lengths), np.empty_like(lengths)
    free = np.empty(len(lengths), dtype=np.int64)
    n_rows = 0
    for i in np.argsort(-lengths, kind="stable"):
        fits = np.flatnonzero(free[:n_rows] >= lengths[i])
        row = int(fits[0]) if len(fits) else n_rows
        if row == n_rows:
            free[row], n_rows = width, n_rows + 1
        rows[i], cols[i] = row, width - free[row]
        free[row] -= lengths[i]
    return rows, cols, n_rows


def _packed(
    corpus: Corpus,
    index: torch.Tensor,
    offsets: torch.Tensor,
    starts: torch.Tensor,
    lengths: np.ndarray,
    width: int,
) -> tuple[torch.Tensor, torch.Tensor, Packing]:
    """Inputs and targets ``(R, width)`` of the texts ``index`` packed several to a row (first
    fit, longest first), and their :class:`Packing`.

    Text ``i`` contributes ``lengths[i]`` targets (host copy, each at most ``width``) from
    ``offsets[i]`` on; its first input is the boundary id when it starts at the text's start,
    as in :func:`_padded`. Slots after the last text of a row are padding (input the boundary
    id, target -100). The same texts as a padded batch, in about as many slots as they have
    targets instead of ``len(index)`` times the longest.
    """
    rows, cols, n_rows = _first_fit_decreasing(lengths, width)
    text = np.repeat(np.arange(len(lengths)), lengths)
    step = np.arange(len(text)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    slot = rows[text] * width + cols[text] + step
    device = index.device
    text, step, slot = (
        torch.from_numpy(a).to(device, non_blocking=True) for a in (text, step, slot)
    )
    inner = offsets[text] + step
    pos = starts[index[text]] + inner
    size = n_rows * width
    x = torch.full((size,), BOUNDARY_ID, dtype=torch.long, device=device)
    x[slot] = _text_inputs(corpus, pos, inner)
    y = torch.full((size,), _IGNORE, dtype=torch.long, device=device)
    y[slot] = corpus.targets[pos].long()
    positions = torch.zeros(size, dtype=torch.long, device=device)
    positions[slot] = step
    segments = torch.full((size,), -1, dtype=torch.long, device=device)
    segments[slot] = text
    shape = (n_rows, width)
    return x.view(shape), y.view(shape), Packing(positions.view(shape), segments.view(shape))


def _chunks(n_items: int, sizes: torch.Tensor, budget: int) -> Iterator[slice]:
    """Consecutive slices of items sorted by ascending ``sizes`` with ``rows * max <= budget``."""
    i = 0
    while i < n_items:
        j = min(n_items, i + max(1, budget // max(1, int(sizes[i]))))
        while j > i + 1 and (j - i) * int(sizes[j - 1]) > budget:
            j = i + max(1, budget // max(1, int(sizes[j - 1])))
        yield slice(i, j)
        i = j
