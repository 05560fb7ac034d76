"""Compact n-gram counting for :class:`charzoo.models.ngram.CharNGram`.

A corpus is laid out once as a flat array of ids in the smallest unsigned dtype that holds the
vocabulary: every text is ``pad`` boundary ids followed by its targets (the same layout as
:class:`charzoo.data.WindowData`, at 1-4 bytes per id instead of 8). A k-gram is the k ids
ending at a target, packed into one int64 key (its ids as digits in base ``vocab``, the oldest
the most significant). Keys are computed chunk by chunk and reduced with sorting, so memory is
the layout, one chunk of keys and the distinct n-grams, whatever the corpus size.

The start of a text is **one** start symbol, as in established toolkits (KenLM, IRSTLM, SRILM:
``<s> c1 .. cL </s>``): a k-gram is counted only when it holds at most one boundary id before
its last character. The counted n-grams are exactly those of ``<s> c1 .. cL`` (and ``</s>``
in document mode): padding contexts such as ``<s><s>c`` are never counted, so a context that
reaches before the start of its text is unseen and backs off to the single-``<s>`` context.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["CHUNK", "count_ngrams", "id_dtype", "layout", "rolling_keys"]

CHUNK = 1 << 22  # positions per chunk: ~32 MB of int64 keys


def id_dtype(vocab: int) -> np.dtype:
    """Smallest unsigned dtype holding ids ``0 .. vocab - 1``."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def layout(
    targets: torch.Tensor, lengths: torch.Tensor, pad: int, vocab: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Flat ids ``pad`` boundary ids + targets, text after text, and which entries are targets.

    The mask is ``None`` when every target is non-zero (stream mode): the targets are then
    exactly the non-zero entries.
    """
    dtype = id_dtype(vocab)
    lengths_np = lengths.numpy()
    n_texts = len(lengths_np)
    flat = np.zeros(len(targets) + pad * n_texts, dtype=dtype)
    values = targets.numpy()
    if n_texts == 1:
        flat[pad:] = values
        mask = None if (values != 0).all() else np.arange(len(flat)) >= pad
        return flat, mask
    is_target = np.ones(len(flat), dtype=bool)
    first = np.cumsum(lengths_np + pad) - lengths_np - pad  # first pad of every text
    for j in range(pad):  # pad is order - 1: a handful of strided writes
        is_target[first + j] = False
    flat[is_target] = values
    if (values != 0).all():
        return flat, None
    return flat, is_target


def rolling_keys(window: np.ndarray, vocab: int, order: int) -> list[np.ndarray]:
    """Packed keys of the k-grams ending at every position ``>= order - 1`` of ``window``.

    ``keys[k - 1][j]`` is the k-gram ending at ``window[order - 1 + j]`` (``k = 1 .. order``).
    """
    n = len(window) - (order - 1)
    ids = window.astype(np.int64)
    keys = [ids[order - 1 :]]
    for k in range(2, order + 1):
        start = order - k
        keys.append(keys[-1] + ids[start : start + n] * vocab ** (k - 1))
    return keys


def count_ngrams(
    flat: np.ndarray,
    is_target: np.ndarray | None,
    vocab: int,
    order: int,
    chunk: int = CHUNK,
    progress=None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Distinct k-grams (sorted int64 keys) and their counts (uint32/uint64), k = 1 .. order.

    ``flat``, ``is_target`` as returned by :func:`layout` with ``pad = order - 1`` (or more).
    """
    pad = order - 1
    parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(order)]
    merged: list[tuple[np.ndarray, np.ndarray]] = [
        (np.empty(0, np.int64), np.empty(0, np.int64)) for _ in range(order)
    ]
    pending = [0] * order
    for start in range(pad, len(flat), chunk):
        stop = min(start + chunk, len(flat))
        window = flat[start - pad : stop]
        target = window[pad:] != 0 if is_target is None else is_target[start:stop]
        keys = rolling_keys(window, vocab, order)
        for k in range(1, order + 1):
            valid = target
            if k >= 3:  # at most one boundary id (the start symbol) in the context
                valid = valid & (window[pad - k + 2 : pad - k + 2 + len(target)] != 0)
            uniq, counts = np.unique(keys[k - 1][valid], return_counts=True)
            parts[k - 1].append((uniq, counts))
            pending[k - 1] += len(uniq)
            if pending[k - 1] > max(len(merged[k - 1][0]), chunk):  # geometric merging
                merged[k - 1] = _merge([merged[k - 1], *parts[k - 1]])
                parts[k - 1], pending[k - 1] = [], 0
        del keys
        if progress is not None:
            progress(stop - start)
    out = []
    for k in range(order):
        keys, counts = _merge([merged[k], *parts[k]])
        dtype = np.uint32 if len(counts) == 0 or counts.max() < 2**32 else np.uint64
        out.append((keys, counts.astype(dtype)))
    return out


def _merge(pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal keys over sorted (keys, counts) pieces."""
    pieces = [p for p in pieces if len(p[0])]
    if not pieces:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if len(pieces) == 1:
        return pieces[0]
    keys = np.concatenate([p[0] for p in pieces])
    counts = np.concatenate([p[1] for p in pieces])
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    del order
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[first], np.add.reduceat(counts, first)
