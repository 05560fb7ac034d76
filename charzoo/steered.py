"""The work of constrained ``generate`` and of ``most_likely`` for a fitted model (the
methods themselves are in :mod:`charzoo.generation`)."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from charzoo.constraints import Constraints, compile_constraints
from charzoo.context_dp import ContextDP, fits, window_decoder
from charzoo.data import check_surrogates
from charzoo.sampler import CPU_ROWS, check_sampling_params, default_max_length
from charzoo.search import best_first, prefix_log_prob
from charzoo.steering import (
    ENUMERATE_LIMIT,
    MIN_PARTICLES,
    Rows,
    enumerate_language,
    particle_sample,
)
from charzoo.tokenizer import normalize
from charzoo.utils import make_generator

__all__ = ["constrained_sample", "most_likely_texts"]

METHODS = ("auto", "exact", "dp", "smc", "mask")


def _setup(model: object, prefix: object, max_length: int | None, spec: Constraints, what: str):
    """Checks shared by both: returns (NFC prefix, prefix ids, max_length, automaton)."""
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    check_surrogates([prefix], name="prefix")
    if model.mode_ != "document":
        raise ValueError(
            f"{what} needs a document-mode model (texts that end), but this model was fitted in "
            "stream mode on one long text; fit it on many texts (mode='document')"
        )
    if max_length is None:
        max_length = default_max_length("document", model.max_text_length_)
    prefix = normalize(prefix)
    automaton = compile_constraints(spec, model.tokenizer_, prefix, max_length)
    prefix_ids = torch.from_numpy(model.tokenizer_.encode(prefix, handle_unknown="error"))
    return prefix, prefix_ids, max_length, automaton


def constrained_sample(
    model: object,
    n: int,
    prefix: str,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    max_length: int | None,
    random_state: object,
    spec: Constraints,
    *,
    method: str = "auto",
    return_info: bool = False,
) -> list[str] | tuple[list[str], dict]:
    """``n`` texts from the model's distribution conditioned on ``spec``.

    ``method``: ``"auto"`` (``"exact"`` when the constrained language has at most
    :data:`~charzoo.steering.ENUMERATE_LIMIT` prefixes, else ``"dp"`` for a window model
    whose contexts times automaton states fit :data:`~charzoo.context_dp.MAX_CELLS`, else
    ``"smc"``), ``"exact"`` (enumeration), ``"dp"`` (exact dynamic programming over context x
    automaton state, :mod:`charzoo.context_dp`), ``"smc"`` (sequential Monte Carlo) or
    ``"mask"`` (local masking, the biased baseline). With ``return_info`` also
    a dict: the method used and ``log_prob_constraint``, the log-probability that an
    unconstrained sample satisfies the constraints (exact or estimated).
    """
    check_sampling_params(n, temperature, top_k, top_p, max_length)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    prefix, prefix_ids, max_length, automaton = _setup(
        model, prefix, max_length, spec, "generate with constraints"
    )
    seed, name = (
        (model.random_state, "random_state")
        if random_state is None
        else (random_state, "random_state (generate)")
    )
    generator = make_generator(seed, name=name, device=model.device_)
    model.module_.eval()
    info: dict = {"method": method}
    texts: list[list[int]] = []
    if temperature == 0:  # the limit of the conditional as the temperature goes to 0
        info["method"] = "most_likely"
        best, _, _ = best_first(
            lambda: Rows(model._decoder, prefix_ids), automaton, 1, max_expansions=100_000
        )
        texts = best * n if best else []
        if n and not best:
            raise ValueError("no constrained text has a positive probability under the model")
    elif n:
        if method == "auto":
            partial, _ = automaton.prefix_counts(max_length)
            if partial <= ENUMERATE_LIMIT:
                method = "exact"
            elif fits(model._decoder(), model.tokenizer_.vocab_size, automaton):
                method = "dp"
            else:
                method = "smc"
            info["method"] = method
        if method == "exact" and automaton.prefix_counts(max_length)[0] > 10 * ENUMERATE_LIMIT:
            raise ValueError(
                "method='exact' would enumerate more than "
                f"{10 * ENUMERATE_LIMIT} prefixes; tighten the constraints or use 'auto'"
            )
        if method == "exact":
            rows = Rows(model._decoder, prefix_ids)
            found, log_probs = enumerate_language(rows, automaton, temperature, top_k, top_p)
            total = torch.logsumexp(log_probs, dim=0) if len(found) else torch.tensor(-torch.inf)
            if not torch.isfinite(total):
                raise ValueError(
                    "no text satisfying the constraints has a positive probability under the "
                    "model; relax the constraints, or drop top_k/top_p"
                )
            info["log_prob_constraint"] = float(total)
            probs = torch.softmax(log_probs, dim=0).to(generator.device)
            picks = torch.multinomial(probs, n, replacement=True, generator=generator)
            texts = [found[i] for i in picks.cpu().tolist()]
        elif method == "dp":
            decoder = model._decoder()
            if window_decoder(decoder) is None:
                raise ValueError(
                    "method='dp' needs a finite-context (window) model such as CharNGram or "
                    f"CharMLP, not {type(model).__name__}; use 'auto'"
                )
            table = ContextDP(decoder, prefix_ids, automaton, temperature, top_k, top_p)
            info["log_prob_constraint"] = table.log_prob_constraint
            if not np.isfinite(table.log_prob_constraint):
                raise ValueError(
                    "no text satisfying the constraints has a positive probability under the "
                    "model; relax the constraints, or drop top_k/top_p"
                )
            texts = table.sample(n, generator)
        else:
            estimates = []
            for start in range(0, n, CPU_ROWS):
                count = min(CPU_ROWS, n - start)
                chunk, log_z = particle_sample(
                    Rows(model._decoder, prefix_ids),
                    automaton,
                    count,
                    max(count, MIN_PARTICLES),
                    temperature,
                    top_k,
                    top_p,
                    generator,
                    resample=method == "smc",
                )
                texts.extend(chunk)
                estimates.append(log_z)
            info["log_prob_constraint"] = float(torch.tensor(estimates).mean())
    decoded = [prefix + model.tokenizer_.decode(ids) for ids in texts]
    return (decoded, info) if return_info else decoded


def most_likely_texts(
    model: object,
    n: int,
    prefix: str,
    max_length: int | None,
    spec: Constraints,
    max_expansions: int,
) -> tuple[list[str], list[float]]:
    """The work of :meth:`~charzoo.generation.GenerationMixin.most_likely`."""
    from numbers import Integral

    for name, value, low in (("n", n, 0), ("max_expansions", max_expansions, 1)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    check_sampling_params(n, 1.0, None, None, max_length)
    prefix, prefix_ids, max_length, automaton = _setup(
        model, prefix, max_length, spec, "most_likely"
    )
    model.module_.eval()
    texts, scores, complete = best_first(
        lambda: Rows(model._decoder, prefix_ids), automaton, n, max_expansions=max_expansions
    )
    if not complete:
        warnings.warn(
            f"most_likely stopped after expanding max_expansions={max_expansions} prefixes "
            f"with {len(texts)} of the n={n} texts proven to be the most likely; the list "
            "is exact but short: raise max_expansions for more",
            RuntimeWarning,
            stacklevel=3,
        )
    offset = prefix_log_prob(model._decoder, prefix_ids, document=True)
    return [prefix + model.tokenizer_.decode(t) for t in texts], [s + offset for s in scores]
