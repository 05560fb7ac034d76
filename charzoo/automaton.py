"""Deterministic automata over a model's vocabulary, the form every generation constraint
takes (see :mod:`charzoo.constraints`).

An automaton is a dense transition table ``(n_states, vocab_size)`` of next states (-1: the
character is refused) and an ``accept`` flag per state (the text may end there: the end
marker, the boundary id, is allowed). Column :data:`~charzoo.tokenizer.BOUNDARY_ID` of the
table is always -1; ending is ``accept``. Constraints are built as small automata and combined
by :func:`intersect` (the product construction, breadth first and vectorised), then
:meth:`Automaton.trim` keeps only the states reachable from the start that can still reach
acceptance, so a sampler that follows the table never enters a path that cannot complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from charzoo.tokenizer import BOUNDARY_ID

__all__ = [
    "Automaton",
    "allowed_chars",
    "contains",
    "ends_with",
    "excluded_texts",
    "intersect",
    "length_range",
    "not_contains",
    "starts_with",
]

MAX_STATES = 4_000_000  # product states refused beyond this (memory: states x vocab ints)


@dataclass
class Automaton:
    """A deterministic automaton over ids ``1..V-1`` with ending as acceptance.

    Attributes
    ----------
    table : ndarray of shape (n_states, vocab_size), int64
        Next state after each id; -1 where the id is refused (always for the boundary id).
    accept : ndarray of shape (n_states,), bool
        Whether a text may end in each state.
    start : int
        The initial state.
    """

    table: np.ndarray
    accept: np.ndarray
    start: int = 0

    @property
    def n_states(self) -> int:
        return len(self.accept)

    def walk(self, ids: Iterable[int]) -> int:
        """The state after reading ``ids`` from the start (-1 once an id is refused)."""
        state = self.start
        for i in ids:
            if state < 0:
                break
            state = int(self.table[state, i])
        return state

    def trim(self) -> Automaton:
        """The same language with only useful states (reachable and able to accept).

        States are renumbered; transitions into removed states become -1. The result of an
        empty language has one non-accepting state without transitions.
        """
        table, accept = self.table, self.accept
        reach = np.zeros(len(accept), dtype=bool)
        reach[self.start] = True
        frontier = np.array([self.start])
        while len(frontier):
            nxt = table[frontier]
            nxt = np.unique(nxt[nxt >= 0])
            frontier = nxt[~reach[nxt]]
            reach[frontier] = True
        alive = accept & reach
        while True:  # co-reachability: fixpoint of "some transition leads to an alive state"
            leads = ((table >= 0) & alive[np.maximum(table, 0)]).any(axis=1) & reach
            grown = alive | leads
            if (grown == alive).all():
                break
            alive = grown
        if not alive[self.start]:
            return Automaton(np.full((1, table.shape[1]), -1, np.int64), np.zeros(1, bool), 0)
        keep = np.flatnonzero(alive)
        new_id = np.full(len(accept) + 1, -1, dtype=np.int64)  # index -1 maps -1 to -1
        new_id[keep] = np.arange(len(keep))
        new_table = new_id[table[keep]]
        return Automaton(new_table, accept[keep].copy(), int(new_id[self.start]))

    @property
    def is_empty(self) -> bool:
        """Whether no text is accepted (meaningful after :meth:`trim`)."""
        return not self.accept.any()

    def prefix_counts(self, max_steps: int) -> tuple[float, float]:
        """(number of partial texts, number of complete texts) of a finite language.

        Counts the distinct prefixes (nodes of the tree of texts) and accepted texts reached
        within ``max_steps`` ids from the start, as floats (they may be astronomically large).
        """
        table = self.table
        valid = table >= 0
        rows = np.nonzero(valid)[0]
        targets = table[valid]
        count = np.zeros(self.n_states)
        count[self.start] = 1.0
        partial = complete = 0.0
        for _ in range(max_steps + 1):
            partial += count.sum()
            complete += count[self.accept].sum()
            count = np.bincount(targets, weights=count[rows], minlength=self.n_states)
            if not count.any():
                break
        return partial, complete


def _component(table: np.ndarray, accept: Sequence[bool]) -> Automaton:
    table = np.asarray(table, dtype=np.int64)
    table[:, BOUNDARY_ID] = -1
    return Automaton(table, np.asarray(accept, dtype=bool), 0)


def length_range(vocab_size: int, low: int, high: int | None) -> Automaton:
    """Texts of ``low`` to ``high`` characters (``high=None``: no upper bound)."""
    cap = high if high is not None else low
    table = np.full((cap + 1, vocab_size), -1, dtype=np.int64)
    for s in range(cap + 1):
        if s < cap or high is None:
            table[s, :] = min(s + 1, cap)
    return _component(table, [s >= low for s in range(cap + 1)])


def allowed_chars(vocab_size: int, ids: Iterable[int]) -> Automaton:
    """Texts made only of the characters ``ids``."""
    table = np.full((1, vocab_size), -1, dtype=np.int64)
    table[0, list(ids)] = 0
    return _component(table, [True])


def starts_with(vocab_size: int, ids: Sequence[int]) -> Automaton:
    """Texts starting with ``ids``."""
    m = len(ids)
    table = np.full((m + 1, vocab_size), -1, dtype=np.int64)
    for s, i in enumerate(ids):
        table[s, i] = s + 1
    table[m, :] = m
    return _component(table, [s == m for s in range(m + 1)])


def _kmp(vocab_size: int, ids: Sequence[int]) -> np.ndarray:
    """The string-matching automaton of ``ids``: state = length of the longest suffix of the
    text read so far that is a prefix of ``ids``; shape (m + 1, V)."""
    m = len(ids)
    table = np.zeros((m + 1, vocab_size), dtype=np.int64)
    fallback = 0  # the state of the longest proper border of ids[:s]
    for s in range(m + 1):
        if s > 0:
            table[s] = table[fallback]
        if s < m:
            table[s, ids[s]] = s + 1
            if s > 0:
                fallback = table[fallback, ids[s]]
    return table


def contains(vocab_size: int, ids: Sequence[int]) -> Automaton:
    """Texts containing ``ids`` somewhere."""
    table = _kmp(vocab_size, ids)
    table[len(ids), :] = len(ids)
    return _component(table, [s == len(ids) for s in range(len(ids) + 1)])


def ends_with(vocab_size: int, ids: Sequence[int]) -> Automaton:
    """Texts ending with ``ids``."""
    table = _kmp(vocab_size, ids)
    return _component(table, [s == len(ids) for s in range(len(ids) + 1)])


def not_contains(vocab_size: int, ids: Sequence[int]) -> Automaton:
    """Texts not containing ``ids``."""
    m = len(ids)
    table = _kmp(vocab_size, ids)[:m]
    table[table == m] = -1
    return _component(table, [True] * m)


def excluded_texts(vocab_size: int, texts: Iterable[Sequence[int]]) -> Automaton:
    """Every text except the given ones (a trie; state 0 is the absorbing 'left the trie'
    state, state 1 the root)."""
    children: list[dict[int, int]] = [{}, {}]
    terminal = [False, False]
    for ids in texts:
        node = 1
        for i in ids:
            nxt = children[node].get(i)
            if nxt is None:
                nxt = len(children)
                children[node][i] = nxt
                children.append({})
                terminal.append(False)
            node = nxt
        terminal[node] = True
    table = np.zeros((len(children), vocab_size), dtype=np.int64)  # default: off the trie
    for node, kids in enumerate(children):
        if kids:
            table[node, list(kids)] = list(kids.values())
    automaton = _component(table, [not t for t in terminal])
    automaton.start = 1
    return automaton


def intersect(automata: Sequence[Automaton]) -> Automaton:
    """The product automaton: texts accepted by every one of ``automata`` (reachable
    product states only, found breadth first with vectorised table lookups)."""
    if len(automata) == 1:
        return automata[0]
    sizes = np.array([a.n_states for a in automata], dtype=np.float64)
    if np.prod(sizes) >= 2.0**62:
        raise ValueError(
            "the constraints are too many or too large to combine (product of their automaton "
            f"sizes {int(np.prod(sizes)):.3g}); use fewer or simpler constraints"
        )
    radix = np.cumprod([1] + [a.n_states for a in automata[:-1]]).astype(np.int64)
    n_states = np.array([a.n_states for a in automata], dtype=np.int64)
    vocab = automata[0].table.shape[1]

    def decode(keys: np.ndarray) -> list[np.ndarray]:
        return [(keys // r) % s for r, s in zip(radix, n_states)]

    start = np.array([sum(int(a.start) * int(r) for a, r in zip(automata, radix))])
    known = start
    frontier = start
    layers_keys, layers_next = [], []
    while len(frontier):
        parts = decode(frontier)
        nxt = np.zeros((len(frontier), vocab), dtype=np.int64)
        dead = np.zeros((len(frontier), vocab), dtype=bool)
        for a, part, r in zip(automata, parts, radix):
            step = a.table[part]
            dead |= step < 0
            nxt += step * r
        nxt[dead] = -1
        layers_keys.append(frontier)
        layers_next.append(nxt)
        found = np.unique(nxt[nxt >= 0])
        frontier = np.setdiff1d(found, known, assume_unique=True)
        known = np.union1d(known, frontier)
        if len(known) > MAX_STATES:
            raise ValueError(
                f"the constraints combine into more than {MAX_STATES} automaton states; use "
                "fewer or simpler constraints (or a shorter max_length)"
            )
    keys = np.concatenate(layers_keys)
    order = np.argsort(keys)
    keys = keys[order]
    nxt = np.concatenate(layers_next)[order]
    table = np.where(nxt >= 0, np.searchsorted(keys, np.maximum(nxt, 0)), -1)
    accept = np.ones(len(keys), dtype=bool)
    for a, part in zip(automata, decode(keys)):
        accept &= a.accept[part]
    return Automaton(table.astype(np.int64), accept, int(np.searchsorted(keys, start[0])))
