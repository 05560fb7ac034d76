"""Sampling from a model's distribution conditioned on a constraint automaton.

The target is ``p(text | text satisfies the constraints)`` where ``p`` is the model's own
distribution after ``temperature``, ``top_k`` and ``top_p`` are applied to each step's
logits (the same per-step distribution unconstrained :func:`~charzoo.sampler.sample` draws
from). Two samplers, both through the :class:`~charzoo.sampler.Decoder` protocol every model
provides, so they work for every model, plugins included (finite-context models also
have an exact dynamic programme, :mod:`charzoo.context_dp`):

* **exact** (:func:`enumerate_language`): when the constrained language has at most
  :data:`ENUMERATE_LIMIT` prefixes, every text is scored in batched decoder calls (one per
  text length) and the samples are drawn from the exact conditional distribution.
* **sequential Monte Carlo** (:func:`particle_sample`): particles are extended one character
  at a time from the model's distribution restricted to the characters that keep a text
  completable (the trimmed automaton knows them), each weighted by the probability mass it
  kept; when the effective sample size falls below half the particles they are resampled
  (systematic resampling). The returned texts are drawn from the final weighted particles:
  approximate, consistent as the number of particles grows (measured in
  ``benchmarks/steering.py``).

``method="mask"`` (local masking: the restricted distribution without weights) is kept only
as the baseline the benchmark compares against: it samples a different distribution.
"""

from __future__ import annotations

import math

import torch

from charzoo.automaton import Automaton
from charzoo.sampler import filter_logits, scale_logits
from charzoo.tokenizer import BOUNDARY_ID

__all__ = [
    "ENUMERATE_LIMIT",
    "MIN_PARTICLES",
    "Rows",
    "enumerate_language",
    "particle_sample",
    "step_log_probs",
]

ENUMERATE_LIMIT = 20_000  # prefixes (partial texts) scored for exact sampling at most
MIN_PARTICLES = 512  # particles per batch of the sequential Monte Carlo sampler at least


class Rows:
    """A model's decoder as rows that can be advanced, copied and dropped.

    ``select(index)`` may repeat rows (resampling, branching). Decoders without ``select``
    are rebuilt from the prefix and the stored history of every row instead.
    """

    def __init__(self, make_decoder: object, prefix: torch.Tensor) -> None:
        self.make_decoder = make_decoder
        self.prefix = prefix
        self.decoder = make_decoder()
        self.native = hasattr(self.decoder, "select")
        self.history = torch.empty((0, 0), dtype=torch.long)  # replay fallback only

    def start(self, n: int) -> torch.Tensor:
        if self.native and n == 1:  # a recurrent decoder finds its batch dims from n >= 2
            logits = self.decoder.start(self.prefix, 2)
            self.decoder.select(torch.tensor([0]))
            return logits[:1]
        self.history = torch.empty((n, 0), dtype=torch.long)
        return self.decoder.start(self.prefix, n)

    def select(self, index: torch.Tensor) -> None:
        if self.native:
            self.decoder.select(index)
            return
        self.history = self.history[index.cpu()]
        self.decoder = self.make_decoder()
        self.decoder.start(self.prefix, len(index))
        for column in self.history.T:
            self.decoder.advance(column)

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        if not self.native:
            self.history = torch.cat([self.history, tokens.cpu()[:, None]], dim=1)
        return self.decoder.advance(tokens)


def step_log_probs(
    logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None
) -> torch.Tensor:
    """The per-step log-distribution sampling draws from (float64)."""
    logits = filter_logits(scale_logits(logits, temperature), top_k, top_p)
    return torch.log_softmax(logits.double(), dim=-1)


class _Tables:
    """The automaton as tensors on one device: next states and allowed ids (end included)."""

    def __init__(self, automaton: Automaton, device: torch.device) -> None:
        self.next = torch.from_numpy(automaton.table).to(device)
        allowed = automaton.table >= 0
        allowed[:, BOUNDARY_ID] = automaton.accept
        self.allowed = torch.from_numpy(allowed).to(device)
        self.start = automaton.start


def _no_mass_error(what: str) -> ValueError:
    return ValueError(
        f"no text satisfying the constraints has a positive probability under the model {what}"
        "; relax the constraints, or drop top_k/top_p, which remove characters the "
        "constraints need"
    )


@torch.no_grad()
def enumerate_language(
    rows: Rows, automaton: Automaton, temperature: float, top_k: int | None, top_p: float | None
) -> tuple[list[list[int]], torch.Tensor]:
    """Every text of the (finite) constrained language with a positive probability, as ids
    after the prefix, and its log-probability (float64) under the per-step distribution."""
    logits = rows.start(1)
    tables = _Tables(automaton, logits.device)
    state = torch.tensor([tables.start], device=logits.device)
    logp = torch.zeros(1, dtype=torch.float64, device=logits.device)
    hist = torch.empty((1, 0), dtype=torch.long, device=logits.device)
    texts: list[list[int]] = []
    scores = []
    while True:
        lp = step_log_probs(logits, temperature, top_k, top_p).to(state.device)
        allowed = tables.allowed[state] & torch.isfinite(lp)
        ends = allowed[:, BOUNDARY_ID]
        texts.extend(hist[ends].tolist())
        scores.append(logp[ends] + lp[ends, BOUNDARY_ID])
        allowed[:, BOUNDARY_ID] = False
        parent, token = allowed.nonzero(as_tuple=True)
        if len(parent) == 0:
            break
        logp = logp[parent] + lp[parent, token]
        state = tables.next[state[parent], token]
        hist = torch.cat([hist[parent], token[:, None]], dim=1)
        rows.select(parent)
        logits = rows.advance(token)
    return texts, torch.cat(scores).cpu()


def _systematic(log_weights: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` ancestor indices by systematic resampling of the normalised weights."""
    weights = torch.softmax(log_weights.double(), dim=0).cpu()
    cumulative = torch.cumsum(weights, dim=0)
    cumulative[-1] = 1.0
    u = torch.rand(1, generator=generator, device=generator.device).double().cpu()
    points = (u + torch.arange(n, dtype=torch.float64)) / n
    return torch.searchsorted(cumulative, points).clamp_(max=len(weights) - 1)


@torch.no_grad()
def particle_sample(
    rows: Rows,
    automaton: Automaton,
    n: int,
    n_particles: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator,
    *,
    resample: bool = True,
) -> tuple[list[list[int]], float]:
    """``n`` texts (ids after the prefix) by sequential Monte Carlo with ``n_particles``.

    Returns the texts and the estimate of the log-probability that an unconstrained sample
    satisfies the constraints (the SMC estimate of the normalising constant; rejection
    sampling needs about ``exp(-estimate)`` draws per kept text). With ``resample=False``
    the weights are ignored: local masking, a biased baseline.
    """
    logits = rows.start(n_particles)
    device = logits.device
    tables = _Tables(automaton, device)
    size = n_particles
    state = torch.full((size,), tables.start, dtype=torch.long, device=device)
    logw = torch.zeros(size, dtype=torch.float64, device=device)
    done = torch.zeros(size, dtype=torch.bool, device=device)
    out = torch.zeros((size, 8), dtype=torch.long, device=device)
    active = torch.arange(size, device=device)  # the particles the decoder's rows stand for
    log_z = 0.0
    step = 0
    while len(active):
        if step == out.shape[1]:
            out = torch.cat([out, torch.zeros_like(out)], dim=1)
        lp = step_log_probs(logits, temperature, top_k, top_p).to(device)
        masked = lp.masked_fill(~tables.allowed[state[active]], float("-inf"))
        kept = torch.logsumexp(masked, dim=-1)
        logw[active] += kept
        # a row without mass (weight 0) still moves on, uniformly over its allowed ids
        probs = torch.where(
            torch.isfinite(kept)[:, None],
            torch.softmax(masked, dim=-1),
            tables.allowed[state[active]].double(),
        )
        token = torch.multinomial(probs.to(generator.device).float(), 1, generator=generator)
        token = token.squeeze(1).to(device)
        out[active, step] = token
        ended = token == BOUNDARY_ID
        going = active[~ended]
        state[going] = tables.next[state[going], token[~ended]]
        done[active[ended]] = True
        row_of = torch.full((size,), -1, dtype=torch.long, device=device)
        row_of[active] = torch.arange(len(active), device=device)
        if not torch.isfinite(logw).any():
            raise _no_mass_error("(every particle reached probability 0)")
        total = torch.logsumexp(logw, dim=0)
        ess = float(torch.exp(2 * total - torch.logsumexp(2 * logw, dim=0)))
        if resample and ess < size / 2:
            ancestors = _systematic(logw, size, generator).to(device)
            log_z += float(total) - math.log(size)
            state, done, out = state[ancestors], done[ancestors], out[ancestors]
            logw = torch.zeros(size, dtype=torch.float64, device=device)
            active = (~done).nonzero().squeeze(1)
            index = row_of[ancestors[active]]
        else:
            active, index = going, (~ended).nonzero().squeeze(1)
        step += 1
        if len(active):
            rows.select(index)
            logits = rows.advance(out[active, step - 1])
    log_z += float(torch.logsumexp(logw, dim=0)) - math.log(size)
    if resample:
        chosen = _systematic(logw, n, generator)
        chosen = chosen[torch.randperm(n, generator=generator, device=generator.device).cpu()]
    else:
        chosen = torch.arange(n)
    texts = []
    for row in out[chosen.to(device)].cpu().tolist():
        texts.append(row[: row.index(BOUNDARY_ID)] if BOUNDARY_ID in row else row)
    return texts, log_z
