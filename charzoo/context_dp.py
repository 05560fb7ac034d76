"""Exact conditional sampling for finite-context models by dynamic programming.

A window model (n-gram, MLP, ... : :class:`~charzoo.window.WindowDecoder`) predicts the next
id from its last ``k`` ids only, so the probability that a text finished from a context ``c``
in automaton state ``q`` satisfies the constraints, ``beta(q, c)``, obeys

    beta(q, c) = accept(q) p(end | c) + sum over allowed ids t of p(t | c) beta(q', c')

with ``q'`` the automaton's next state and ``c'`` the context shifted by ``t``. The automaton
is acyclic (``max_length`` bounds every text), so one pass over its states in reverse
topological order fills the table, from one batched model call over every context. Sampling
then draws each id with probability ``p(t | c) beta(q', c') / beta(q, c)``: exactly the
conditional distribution, with no further model call. Used when ``vocab_size ** k`` contexts
times the automaton's states fit :data:`MAX_CELLS`.
"""

from __future__ import annotations

import numpy as np
import torch

from charzoo.automaton import Automaton
from charzoo.steering import step_log_probs
from charzoo.tokenizer import BOUNDARY_ID
from charzoo.window import WindowDecoder

__all__ = ["MAX_CELLS", "ContextDP", "window_decoder"]

MAX_CELLS = 4_000_000  # automaton states x contexts held in the table at most
_CHUNK = 8192  # contexts per model call


def window_decoder(decoder: object) -> WindowDecoder | None:
    """The window decoder inside ``decoder`` (a precision wrapper unwrapped), or None."""
    inner = decoder if isinstance(decoder, WindowDecoder) else getattr(decoder, "decoder", None)
    return inner if isinstance(inner, WindowDecoder) else None


def fits(decoder: object, vocab_size: int, automaton: Automaton) -> bool:
    """Whether the dynamic programme applies to this decoder and fits in memory."""
    window = window_decoder(decoder)
    if window is None:
        return False
    contexts = float(vocab_size) ** window.context_length
    return contexts * automaton.n_states <= MAX_CELLS


def _topological(table: np.ndarray) -> list[int]:
    """States ordered so that every transition goes forward (the automaton is acyclic)."""
    n = len(table)
    indegree = np.zeros(n, dtype=np.int64)
    targets = [np.unique(row[row >= 0]) for row in table]
    for t in targets:
        indegree[t] += 1
    order, ready = [], [q for q in range(n) if indegree[q] == 0]
    while ready:
        q = ready.pop()
        order.append(q)
        for t in targets[q]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(int(t))
    if len(order) != n:
        raise RuntimeError("the constraint automaton has a cycle; max_length must bound it")
    return order


class ContextDP:
    """The table ``beta`` for one window model, automaton and sampling setting."""

    @torch.no_grad()
    def __init__(
        self,
        decoder: object,
        prefix: torch.Tensor,
        automaton: Automaton,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
    ) -> None:
        window = window_decoder(decoder)
        k = window.context_length
        vocab = automaton.table.shape[1]
        n_contexts = vocab**k
        self.vocab, self.k, self.automaton = vocab, k, automaton
        digits = np.indices((vocab,) * k).reshape(k, -1).T  # every context, in base-V order
        probs = np.empty((n_contexts, vocab))
        decoder.start(prefix[:0], 2)
        for start in range(0, n_contexts, _CHUNK):
            ids = torch.from_numpy(digits[start : start + _CHUNK]).long()
            shifted = torch.cat([torch.zeros((len(ids), 1), dtype=torch.long), ids[:, :-1]], 1)
            window.context = shifted.to(window.context.device)
            logits = decoder.advance(ids[:, -1].to(window.context.device))
            lp = step_log_probs(logits, temperature, top_k, top_p)
            probs[start : start + len(ids)] = lp.exp().cpu().numpy()
        self.probs = probs
        self.tail = vocab ** (k - 1)  # the shifted context of (c, t) is (c % tail) * V + t
        table, accept = automaton.table, automaton.accept
        beta = np.zeros((automaton.n_states, n_contexts))
        blocks = probs.reshape(vocab, self.tail, vocab)  # [first id, rest, next id]
        for q in reversed(_topological(table)):
            total = probs[:, BOUNDARY_ID] * accept[q]
            for target in np.unique(table[q][table[q] >= 0]):  # one product per next state
                tokens = table[q] == target
                ahead = beta[target].reshape(self.tail, vocab)[:, tokens]  # [rest, next id]
                total = total + np.einsum("arv,rv->ar", blocks[:, :, tokens], ahead).reshape(-1)
            beta[q] = total
        self.beta = beta
        context = np.concatenate([np.zeros(k, dtype=np.int64), prefix.numpy()])[-k:]
        self.start_context = int((context * vocab ** np.arange(k - 1, -1, -1)).sum())

    @property
    def log_prob_constraint(self) -> float:
        """Log-probability that a free sample (after the prefix) satisfies the constraints."""
        with np.errstate(divide="ignore"):
            return float(np.log(self.beta[self.automaton.start, self.start_context]))

    def sample(self, n: int, generator: torch.Generator) -> list[list[int]]:
        """``n`` texts (ids after the prefix) drawn exactly from the conditional."""
        table, accept = self.automaton.table, self.automaton.accept
        state = np.full(n, self.automaton.start)
        context = np.full(n, self.start_context)
        texts: list[list[int]] = [[] for _ in range(n)]
        active = np.arange(n)
        while len(active):
            q, c = state[active], context[active]
            nxt = table[q]  # (m, V)
            shifted = (c % self.tail)[:, None] * self.vocab + np.arange(self.vocab)
            weights = self.probs[c] * np.where(
                nxt >= 0, self.beta[np.maximum(nxt, 0), shifted], 0.0
            )
            weights[:, BOUNDARY_ID] = self.probs[c, BOUNDARY_ID] * accept[q]
            picks = torch.multinomial(
                torch.from_numpy(weights).to(generator.device), 1, generator=generator
            )
            token = picks.squeeze(1).cpu().numpy()
            ended = token == BOUNDARY_ID
            for row, t in zip(active[~ended], token[~ended]):
                texts[row].append(int(t))
            going = active[~ended]
            state[going] = table[q[~ended], token[~ended]]
            context[going] = (c[~ended] % self.tail) * self.vocab + token[~ended]
            active = going
        return texts
