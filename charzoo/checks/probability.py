"""Checks that a model is a probability model: :meth:`~charzoo.base.CharLM.next_char_proba`
sums to 1 over the vocabulary and the end marker, ``score_samples`` is its chain rule, and
``generate`` draws from it. Each runs in document and in stream mode."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import chi2

from charzoo.base import CharLM
from charzoo.checks._common import _fitted, _name, _names, _one_thread, _stream
from charzoo.proba import END, stream_sampling_proba

__all__ = [
    "ALPHA",
    "check_next_char_proba",
    "check_score_is_chain_rule",
    "check_generate_follows_proba",
]

MODES = ("document", "stream")
ALPHA = 1e-4
"""False-alarm rate of :func:`check_generate_follows_proba`: the chance that a model whose
samples follow its distribution fails the test (the seed is fixed, so a run is repeatable)."""
_N_DRAWS = 2000
_SUM_TOL = 1e-6
_LOG_TOL = 1e-3  # nats; float32 log-probabilities summed over a short text stay well inside


def _contexts(model: CharLM) -> list[str]:
    """Prefixes to probe: the empty one, prefixes of held-out texts and of the model's own
    samples (contexts it reaches), the last characters of the stream in stream mode."""
    if model.mode_ == "document":
        texts = _names()[1][:6]
    else:
        text = _stream()
        texts = [text[i : i + 24] for i in (0, 700, 1900)]
    texts = texts + model.generate(4, max_length=12, random_state=0)
    prefixes = [""] + [t[: len(t) * k // 3] for t in texts for k in (1, 2, 3)]
    return list(dict.fromkeys(prefixes))


def _chain_rule_texts(model: CharLM) -> list[str]:
    if model.mode_ == "document":
        return _names()[1][:5]
    text = _stream()
    return [text[i : i + 20] for i in (0, 1000, 2500)]


@_one_thread
def check_next_char_proba(estimator: CharLM) -> None:
    """``next_char_proba`` gives, for sampled contexts, finite non-negative probabilities
    over the vocabulary and the end marker (labelled by ``next_char_labels_``) that sum to 1."""
    for mode in MODES:
        model = _fitted(estimator, mode)
        labels = model.next_char_labels_
        expected = [END, *model.tokenizer_.chars]
        assert list(labels) == expected, (
            f"{_name(model)}.next_char_labels_ is {labels!r:.80}; it must be the end marker "
            f"{END!r} followed by tokenizer_.chars"
        )
        prefixes = _contexts(model)
        proba = np.asarray(model.next_char_proba(prefixes))
        shape = (len(prefixes), model.tokenizer_.vocab_size)
        assert proba.shape == shape, (
            f"{_name(model)}.next_char_proba({len(prefixes)} prefixes) has shape "
            f"{proba.shape}, expected {shape} (one column per character plus the end marker)"
        )
        bad = ~np.isfinite(proba) | (proba < 0)
        assert not bad.any(), (
            f"{_name(model)} ({mode} mode): next_char_proba gives {proba[bad][0]!r} after "
            f"prefix {prefixes[int(np.nonzero(bad)[0][0])]!r}; probabilities are finite and >= 0"
        )
        sums = proba.sum(axis=1)
        worst = int(np.argmax(np.abs(sums - 1)))
        assert abs(sums[worst] - 1) <= _SUM_TOL, (
            f"{_name(model)} ({mode} mode): next_char_proba after prefix {prefixes[worst]!r} "
            f"sums to {sums[worst]:.6f}, not 1, over the vocabulary and the end marker (end "
            f"marker {proba[worst, 0]:.4f}); the next-character distribution must include "
            "the end marker and be normalised"
        )


@_one_thread
def check_score_is_chain_rule(estimator: CharLM) -> None:
    """``score_samples`` of a text equals the sum of the logs of ``next_char_proba`` of each
    character after the text before it (and, in document mode, of the end marker after the
    whole text): the score is the probability of the text under the model's distribution."""
    for mode in MODES:
        model = _fitted(estimator, mode)
        column = {c: j for j, c in enumerate(model.next_char_labels_)}
        texts = _chain_rule_texts(model)
        scores = model.score_samples(texts)
        for text, score in zip(texts, scores):
            targets = list(text) + ([END] if mode == "document" else [])
            proba = model.next_char_proba([text[:i] for i in range(len(targets))])
            logs = np.log([proba[i, column[c]] for i, c in enumerate(targets)])
            chain = float(logs.sum())
            end = f" (end marker {logs[-1]:.3f})" if mode == "document" else ""
            if mode == "document" and math.isclose(score, chain - logs[-1], abs_tol=_LOG_TOL):
                end += "; the score leaves out the end marker, which must be scored too"
            assert math.isclose(score, chain, rel_tol=1e-4, abs_tol=_LOG_TOL), (
                f"{_name(model)} ({mode} mode): score_samples([{text!r}]) = {score:.4f} but "
                f"the chain rule of next_char_proba gives {chain:.4f}{end}; the log-likelihood "
                "must be the sum of the log-probabilities of every character"
                + (" and of the end marker" if mode == "document" else "")
                + " under the model's normalised next-character distribution"
            )


def _chi_square(observed: np.ndarray, expected_p: np.ndarray) -> tuple[float, int, float]:
    """Pearson's statistic, degrees of freedom and p-value, with the cells expecting fewer
    than 5 draws pooled into one."""
    n = observed.sum()
    expected = n * expected_p
    small = expected < 5
    obs = np.append(observed[~small], observed[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    if (obs[~keep] > 0).any():
        return math.inf, max(int(keep.sum()) - 1, 1), 0.0
    obs, exp = obs[keep], exp[keep]
    stat = float(((obs - exp) ** 2 / exp).sum())
    df = max(len(obs) - 1, 1)
    return stat, df, float(chi2.sf(stat, df))


def _probe_prefix(model: CharLM) -> str:
    """The prefix whose next-character distribution differs most (total variation) from the
    distribution after the empty prefix: a test there also sees a model that ignores it."""
    starts = [t[:k] for t in _contexts(model) for k in (1, 2, 3) if len(t) >= k]
    candidates = list(dict.fromkeys(starts))[:24]
    proba = model.next_char_proba(["", *candidates])
    if model.mode_ == "stream":
        proba = stream_sampling_proba(proba)
    distance = 0.5 * np.abs(proba[1:] - proba[0]).sum(axis=1)
    return candidates[int(np.argmax(distance))]


@_one_thread
def check_generate_follows_proba(estimator: CharLM) -> None:
    """The first character ``generate`` draws after a prefix follows ``next_char_proba`` of
    that prefix (a chi-square test on 2,000 draws with a fixed seed, false-alarm rate
    :data:`ALPHA`); in stream mode the end marker is never drawn and the character columns
    are renormalised."""
    for mode in MODES:
        model = _fitted(estimator, mode)
        prefix = _probe_prefix(model)
        proba = model.next_char_proba([prefix])[0]
        if mode == "stream":
            proba = stream_sampling_proba(proba)
        column = {c: j for j, c in enumerate(model.next_char_labels_)}
        texts = model.generate(_N_DRAWS, prefix=prefix, max_length=1, random_state=12345)
        observed = np.zeros(len(column))
        for text in texts:
            assert text.startswith(prefix), f"generated {text!r} lacks the prefix {prefix!r}"
            nxt = text[len(prefix) :]
            assert nxt in column, f"generate(max_length=1) added {nxt!r}: not one character"
            observed[column[nxt]] += 1
        stat, df, p = _chi_square(observed, proba)
        gap = observed - _N_DRAWS * proba
        j = int(np.argmax(np.abs(gap)))
        assert p >= ALPHA, (
            f"{_name(model)} ({mode} mode): the first character generate() draws after prefix "
            f"{prefix!r} does not follow next_char_proba([{prefix!r}]) (chi-square {stat:.1f} "
            f"on {df} degrees of freedom, p = {p:.2g} < {ALPHA} over {_N_DRAWS} draws; "
            f"{model.next_char_labels_[j]!r} drawn {int(observed[j])} times, expected "
            f"{_N_DRAWS * proba[j]:.0f}); generate must sample the next character from the "
            "model's distribution given the prefix"
        )
