"""The most probable complete texts of a model: best-first (uniform-cost) search.

A prefix's log-probability is an upper bound of the log-probability of every text that
extends it (each further character, the end marker included, multiplies by a probability
<= 1). So a search that always expands the most probable open prefix, and keeps complete
texts in the same priority queue, returns a complete text only when nothing still open can
beat it: the texts come out exactly in order of probability, for any model. The expansions
are batched (the ``batch`` most probable open prefixes are expanded with one decoder call
per text length) and bounded (``max_expansions`` prefixes): when the bound is hit, the texts
proven so far are returned and :func:`best_first` says so.
"""

from __future__ import annotations

import heapq
import itertools

import torch

from charzoo.automaton import Automaton
from charzoo.context_dp import window_decoder
from charzoo.steering import Rows
from charzoo.tokenizer import BOUNDARY_ID
from charzoo.window import WindowDecoder

__all__ = ["best_first", "prefix_log_prob"]


@torch.no_grad()
def _expand(make_rows: object, histories: list[tuple[int, ...]]) -> torch.Tensor:
    """Next-id log-probabilities ``(len(histories), V)`` (float64, on the host) after each
    history; histories of one length share one decoder pass."""
    out: list[torch.Tensor | None] = [None] * len(histories)
    by_length: dict[int, list[int]] = {}
    window = _window_decoder(make_rows())
    for i, h in enumerate(histories):
        # a window decoder's state is its last ids: every history of 1+ ids in one pass
        key = min(len(h), 1) if window is not None else len(h)
        by_length.setdefault(key, []).append(i)
    for length, members in by_length.items():
        rows = make_rows()
        logits = rows.start(len(members))
        if window is not None and length:
            inner = _window_decoder(rows)
            width = inner.context_length + 1
            contexts = torch.full((len(members), width), BOUNDARY_ID, dtype=torch.long)
            for k, i in enumerate(members):
                ids = (rows.prefix.tolist() + list(histories[i]))[-width:]
                contexts[k, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            inner.context = contexts[:, :-1].to(inner.context.device)
            logits = rows.advance(contexts[:, -1].to(logits.device))
        else:
            ids = torch.tensor([histories[i] for i in members], dtype=torch.long)
            for column in ids.reshape(len(members), length).T:
                logits = rows.advance(column.to(logits.device))
        lp = torch.log_softmax(logits.double(), dim=-1).cpu()
        for k, i in enumerate(members):
            out[i] = lp[k]
    return torch.stack(out)


def _window_decoder(rows: Rows) -> WindowDecoder | None:
    """The rows' window decoder, if they have one and can select rows natively."""
    return window_decoder(rows.decoder) if rows.native else None


def best_first(
    make_rows: object,
    automaton: Automaton,
    n: int,
    *,
    max_expansions: int,
    batch: int = 1024,
) -> tuple[list[list[int]], list[float], bool]:
    """The ``n`` most probable texts (ids after the prefix) of the constrained language.

    Parameters
    ----------
    make_rows : callable
        Returns a fresh :class:`~charzoo.steering.Rows` started after the prefix.
    automaton : Automaton
        The trimmed constraint automaton, started after the prefix.
    n : int
        Number of texts.
    max_expansions : int
        Prefixes expanded at most.
    batch : int
        Open prefixes expanded together.

    Returns
    -------
    texts : list of list of int
    log_probs : list of float
        Log-probability of each continuation given the prefix, non-increasing.
    complete : bool
        False when the bound stopped the search before ``n`` texts were proven (fewer are
        returned; the language may also simply hold fewer than ``n`` texts, then True).
    """
    table, accept = automaton.table, automaton.accept
    tie = itertools.count()
    # entries: (-log_prob, tie, ended, ids, state)
    heap: list[tuple[float, int, bool, tuple[int, ...], int]] = [
        (0.0, next(tie), False, (), automaton.start)
    ]
    texts: list[list[int]] = []
    scores: list[float] = []
    expanded = 0
    while heap and len(texts) < n:
        if heap[0][2]:  # a complete text at the top: nothing open can beat it
            neg, _, _, ids, _ = heapq.heappop(heap)
            texts.append(list(ids))
            scores.append(-neg)
            continue
        if expanded >= max_expansions:
            return texts, scores, False
        popped = []
        limit = min(batch, max_expansions - expanded)
        while heap and len(popped) < limit and not heap[0][2]:  # up to the next complete text
            popped.append(heapq.heappop(heap))
        expanded += len(popped)
        lp = _expand(make_rows, [entry[3] for entry in popped])
        for (neg, _, _, ids, state), row in zip(popped, lp.tolist()):
            base = -neg
            if accept[state] and row[BOUNDARY_ID] > float("-inf"):
                heapq.heappush(heap, (-(base + row[BOUNDARY_ID]), next(tie), True, ids, state))
            for token, nxt in enumerate(table[state].tolist()):
                if nxt >= 0 and row[token] > float("-inf"):
                    entry = (-(base + row[token]), next(tie), False, ids + (token,), nxt)
                    heapq.heappush(heap, entry)
    return texts, scores, True


@torch.no_grad()
def prefix_log_prob(make_decoder: object, prefix: torch.Tensor, document: bool) -> float:
    """Log-probability of the ``prefix`` ids from the start of a text (document mode; 0 in
    stream mode, where the prefix is the given context)."""
    if not document or len(prefix) == 0:
        return 0.0
    rows = Rows(make_decoder, prefix[:0])
    logits = rows.start(1)
    total = 0.0
    for token in prefix.tolist():
        total += float(torch.log_softmax(logits.double(), dim=-1)[0, token])
        logits = rows.advance(torch.tensor([token], device=logits.device))
    return total
