"""Compact n-gram counting for :class:`charzoo.models.ngram.CharNGram`.

A corpus is laid out once as a flat array of ids in the smallest unsigned dtype that holds the
vocabulary: every text is ``pad`` boundary ids followed by its targets (the same layout as
:class:`charzoo.data.WindowData`, at 1-4 bytes per id instead of 8). A k-gram is the k ids
ending at a target, packed into one int64 key (its ids as digits in base ``vocab``, the oldest
the most significant). Keys are computed chunk by chunk and reduced with sorting, so memory is
the layout, one chunk of keys and the distinct n-grams, whatever the corpus size. Orders whose
packed ids would not fit int64 (``k * log2(vocab) >= KEY_BITS``) are keyed by the rank of their
context among the sorted n-grams of the order below times ``vocab`` plus their last id (a
trie), one more pass over the corpus each.

The start of a text is **one** start symbol, as in established toolkits (KenLM, IRSTLM, SRILM:
``<s> c1 .. cL </s>``): a k-gram is counted only when it holds at most one boundary id before
its last character. The counted n-grams are exactly those of ``<s> c1 .. cL`` (and ``</s>``
in document mode): padding contexts such as ``<s><s>c`` are never counted, so a context that
reaches before the start of its text is unseen and backs off to the single-``<s>`` context.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from charzoo.data import id_dtype

__all__ = [
    "CHUNK",
    "KEY_BITS",
    "context_ranks",
    "count_ngrams",
    "find",
    "id_dtype",
    "layout",
    "packed_orders",
    "rolling_keys",
]

CHUNK = 1 << 22  # positions per chunk: ~32 MB of int64 keys
KEY_BITS = 62  # packed keys stay below 2 ** 62 (int64 with room for key * vocab + id)


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


def packed_orders(vocab: int, order: int) -> int:
    """How many orders (at least 2) have packed keys: ``k * log2(vocab) < KEY_BITS``.

    Higher orders key an n-gram by the rank of its context among the distinct n-grams of the
    order below (trie style): ``rank * vocab + last id``, which fits whatever the order.
    """
    packed = 2
    while packed < order and (packed + 1) * math.log2(max(vocab, 2)) < KEY_BITS:
        packed += 1
    return min(packed, order)


def count_ngrams(
    flat: np.ndarray,
    is_target: np.ndarray | None,
    vocab: int,
    order: int,
    chunk: int = CHUNK,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[int, np.ndarray]]:
    """Distinct k-grams (sorted int64 keys) and their counts, k = 1 .. order, and for every
    ranked order k the rank of each k-gram's suffix among the (k-1)-grams.

    Orders up to :func:`packed_orders` are packed ids (see :func:`_count_packed`); each higher
    order is one more pass over the corpus keyed by context ranks.
    """
    packed = packed_orders(vocab, order)
    levels = _count_packed(flat, is_target, vocab, packed, chunk)
    suffixes: dict[int, np.ndarray] = {}
    for k in range(packed + 1, order + 1):
        keys, counts, suffix = _count_ranked(flat, is_target, vocab, order, k, levels, chunk)
        levels.append((keys, counts))
        suffixes[k] = suffix
    return levels, suffixes


def find(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Position of every query in ``sorted_keys``, -1 when absent (queries searched in sorted
    order: the table is walked once instead of at random)."""
    out = np.full(len(queries), -1, dtype=np.int64)
    if len(sorted_keys) == 0 or len(queries) == 0:
        return out
    perm = np.argsort(queries)
    ordered = queries[perm]
    pos = np.searchsorted(sorted_keys, ordered).clip(max=len(sorted_keys) - 1)
    out[perm] = np.where(sorted_keys[pos] == ordered, pos, -1)
    return out


def context_ranks(
    windows: np.ndarray, vocab: int, packed: int, top: int, levels: list[np.ndarray]
) -> dict[int, np.ndarray]:
    """Rank of the j-gram ending at every position of each window row among the sorted
    level-j keys ``levels[j - 1]``, for ``j = packed .. top`` (-1: unseen, or too close to
    the row start). ``windows`` is ``(rows, width)``; results have the same shape."""
    rows, width = windows.shape
    ranks = {}
    rank = np.full((rows, width), -1, dtype=np.int64)
    if width >= packed:
        keys = np.zeros((rows, width - packed + 1), dtype=np.int64)
        for j in range(packed):
            keys *= vocab
            keys += windows[:, j : j + width - packed + 1]
        rank[:, packed - 1 :] = find(levels[packed - 1], keys.reshape(-1)).reshape(keys.shape)
    ranks[packed] = rank
    for j in range(packed + 1, top + 1):
        previous, rank = rank, np.full((rows, width), -1, dtype=np.int64)
        known = previous[:, :-1] >= 0
        query = previous[:, :-1] * vocab + windows[:, 1:]
        found = find(levels[j - 1], query[known])
        inner = rank[:, 1:]
        inner[known] = found
        ranks[j] = rank
    return ranks


def _count_ranked(flat, is_target, vocab, order, k, levels, chunk):
    """Order ``k`` keyed ``rank of its context * vocab + last id``, with its suffix ranks."""
    pad = order - 1
    packed = packed_orders(vocab, order)
    sorted_levels = [keys for keys, _ in levels]
    parts = []
    for start in range(pad, len(flat), chunk):
        stop = min(start + chunk, len(flat))
        window = flat[start - pad : stop]
        n = stop - start
        valid = window[pad:] != 0 if is_target is None else is_target[start:stop]
        valid = valid & (window[pad - k + 2 : pad - k + 2 + n] != 0)
        ranks = context_ranks(window[None, :].astype(np.int64), vocab, packed, k - 1,
                              sorted_levels)[k - 1][0]  # fmt: skip
        context, suffix = ranks[pad - 1 : pad - 1 + n], ranks[pad:]
        valid &= context >= 0
        keys = context[valid] * vocab + window[pad:][valid]
        suffix = suffix[valid]
        perm = np.argsort(keys, kind="stable")
        keys, suffix = keys[perm], suffix[perm]
        if len(keys):
            first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
            parts.append((keys[first], np.diff(np.append(first, len(keys))), suffix[first]))
    if not parts:
        empty = np.empty(0, np.int64)
        return empty, empty.astype(np.uint32), empty
    keys = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts])
    suffix = np.concatenate([p[2] for p in parts])
    perm = np.argsort(keys, kind="stable")
    keys, counts, suffix = keys[perm], counts[perm], suffix[perm]
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    counts = np.add.reduceat(counts, first)
    dtype = np.uint32 if counts.max() < 2**32 else np.uint64
    return keys[first], counts.astype(dtype), suffix[first]


def _count_packed(
    flat: np.ndarray,
    is_target: np.ndarray | None,
    vocab: int,
    order: int,
    chunk: int = CHUNK,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Distinct k-grams (sorted int64 keys) and their counts (uint32/uint64), k = 1 .. order.

    ``flat``, ``is_target`` as returned by :func:`layout` with ``pad >= order - 1``. Only the
    highest order is sorted: a shorter k-gram is the prefix of the ``order``-gram ending
    ``order - k`` positions later, so its counts are run lengths over the sorted keys
    divided by ``vocab ** (order - k)``; the k-grams among the last ``order - k`` targets
    of each text, which no ``order``-gram extends, are counted apart.
    """
    pad = order - 1
    parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(order)]
    merged = [(np.empty(0, np.int64), np.empty(0, np.int64)) for _ in range(order)]
    pending = [0] * order
    unigrams = np.zeros(vocab, np.int64)

    def add(k: int, keys: np.ndarray, counts: np.ndarray) -> None:
        parts[k - 1].append((keys, counts))
        pending[k - 1] += len(keys)
        if pending[k - 1] > max(len(merged[k - 1][0]), chunk):  # geometric merging
            merged[k - 1] = _merge([merged[k - 1], *parts[k - 1]])
            parts[k - 1].clear()
            pending[k - 1] = 0

    for start in range(pad, len(flat), chunk):
        stop = min(start + chunk, len(flat))
        window = flat[start - pad : stop]
        valid = window[pad:] != 0 if is_target is None else is_target[start:stop]
        unigrams += np.bincount(window[pad:][valid], minlength=vocab)
        if order >= 3:  # at most one boundary id (the start symbol) in the context
            valid = valid & (window[1 : 1 + len(valid)] != 0)
        keys = _top_keys(window, vocab, order)[valid]
        del valid
        keys, counts = _sorted_counts(keys)
        add(order, keys, counts)
        for k in range(order - 1, 1, -1):  # (the prefix of length 1 may be the start symbol)
            keys, counts = _run_lengths(keys // vocab, counts)
            add(k, keys, counts)
    for k, keys in _tail_keys(flat, is_target, vocab, order):
        add(k, *_sorted_counts(keys))
    out = []
    for k in range(order):
        if k == 0:
            keys = np.flatnonzero(unigrams)
            out.append(
                (
                    keys,
                    unigrams[keys].astype(
                        np.uint64 if keys.size and unigrams.max() >= 2**32 else np.uint32
                    ),
                )
            )
            continue
        keys, counts = _merge([merged[k], *parts[k]])
        dtype = np.uint32 if len(counts) == 0 or counts.max() < 2**32 else np.uint64
        out.append((keys, counts.astype(dtype)))
    return out


def _top_keys(window: np.ndarray, vocab: int, order: int) -> np.ndarray:
    """Packed ``order``-grams ending at every position ``>= order - 1`` of ``window``."""
    n = len(window) - (order - 1)
    keys = window[:n].astype(np.int64)
    for j in range(1, order):
        keys *= vocab
        keys += window[j : j + n]
    return keys


def _sorted_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (sorted) and how often each occurs; sorts ``keys`` in place."""
    keys.sort()
    if len(keys) == 0:
        return keys, np.empty(0, np.int64)
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    counts = np.diff(np.append(first, len(keys)))
    return keys[first], counts


def _run_lengths(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal neighbours of sorted ``keys``."""
    if len(keys) == 0:
        return keys, counts
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[first], np.add.reduceat(counts, first)


def _tail_keys(flat: np.ndarray, is_target: np.ndarray | None, vocab: int, order: int):
    """``(k, keys)`` of the k-grams (k < order) ending among the last ``order - k`` targets
    of each text."""
    if order <= 2:
        return
    if is_target is None:  # stream layout: targets are the non-zero ids
        is_target = flat != 0
    # a text ends where a target is followed by padding or the end of the layout
    end = np.flatnonzero(is_target & ~np.append(is_target[1:], False))
    for back in range(order - 1):  # the target `back` places before the end of its text
        pos = end - back
        pos = pos[pos >= 0]
        pos = pos[is_target[pos]]
        key = np.zeros(len(pos), np.int64)
        for k in range(1, order - back):  # k-grams not extended by an order-gram
            ids = flat[pos - k + 1].astype(np.int64)
            key = key + ids * vocab ** (k - 1)
            if k >= 2:  # (unigrams are counted apart)
                yield k, key[np.ones(len(pos), bool) if k < 3 else flat[pos - k + 2] != 0]


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
