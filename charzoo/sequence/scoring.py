"""Exact scoring in corpus order: padded batches, state carried over long texts, or a
half-overlapping window for bounded modules."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charzoo.data import Corpus
from charzoo.sequence.batching import (
    _IGNORE,
    _SCORE_TOKENS,
    _STATE_CHUNK_STEPS,
    _block_size,
    _chunks,
    _padded,
)
from charzoo.tokenizer import BOUNDARY_ID
from charzoo.utils import ACTIVATION_FLOATS, module_device, widest


@torch.no_grad()
def sequence_nll(module: torch.nn.Module, corpus: Corpus) -> torch.Tensor:
    """NLL of every target of ``corpus`` under ``module`` (eval mode), in corpus order.

    Texts are sorted by length and scored in padded batches; an unbounded module carries its
    state over long texts in chunks of time steps, a bounded one (``block_size``) slides a
    window with stride ``block_size // 2`` over texts longer than its context, so every
    target sees at least half a block of context.
    """
    device = module_device(module)
    out = torch.zeros(len(corpus.targets), dtype=torch.float32)
    if len(out) == 0:
        return out
    block = _block_size(module)
    order = torch.argsort(corpus.lengths, stable=True)
    order = order[corpus.lengths[order] > 0]
    long = order[corpus.lengths[order] > block] if block else order[:0]
    short = order[corpus.lengths[order] <= block] if block else order
    tokens = max(1, min(_SCORE_TOKENS, ACTIVATION_FLOATS // widest(module)))  # huge widths
    for part in _chunks(len(short), corpus.lengths[short], tokens):
        x, y, pos = _padded(corpus, short[part])
        state = None
        for t in range(0, x.shape[1], _STATE_CHUNK_STEPS):
            logits, state = module(x[:, t : t + _STATE_CHUNK_STEPS].to(device), state)
            yc = y[:, t : t + _STATE_CHUNK_STEPS].to(device)
            nll = F.cross_entropy(logits.float().transpose(1, 2), yc, reduction="none").cpu()
            keep = yc.cpu() != _IGNORE
            out[pos[:, t : t + _STATE_CHUNK_STEPS][keep]] = nll[keep]
    for text in long.tolist():
        _score_windows(module, corpus, text, block, out)
    return out


def _score_windows(
    module: torch.nn.Module,
    corpus: Corpus,
    text: int,
    block: int,
    out: torch.Tensor,
) -> None:
    """Score one text longer than ``block`` with half-overlapping windows."""
    device = module_device(module)
    length, begin = int(corpus.lengths[text]), int(corpus.starts[text])
    stride = max(1, block // 2)
    starts = torch.arange(0, length - block + stride, stride).clamp(max=length - block).unique()
    # a window counts the targets after the end of the previous window
    first_counted = torch.cat([torch.zeros(1, dtype=torch.long), starts[:-1] + block]) - starts
    offsets = torch.arange(block)
    rows = max(1, min(_SCORE_TOKENS, ACTIVATION_FLOATS // widest(module)) // block)
    for i in range(0, len(starts), rows):
        s = starts[i : i + rows]
        pos = begin + s[:, None] + offsets
        inputs = corpus.targets[(pos - 1).clamp(min=0)].long()
        inputs[pos == begin] = BOUNDARY_ID  # the text's first target
        logits, _ = module(inputs.to(device))
        nll = F.cross_entropy(
            logits.float().transpose(1, 2), corpus.targets[pos].long().to(device), reduction="none"
        ).cpu()
        keep = offsets >= first_counted[i : i + rows, None]
        out[pos[keep]] = nll[keep]
