"""Constrained generation samples the model's conditional distribution; most_likely is exact.

Statistical checks use fixed seeds and bounds with a small false-alarm rate: a chi-square
goodness-of-fit at p < 1e-4 for exact sampling, and for the approximate sampler its total
variation from the exact conditional against the noise floor of as many exact draws.
"""

from __future__ import annotations

import collections
import re

import numpy as np
import pytest
import torch
from scipy import stats

from charzoo import CharGRU, CharNGram
from charzoo.constraints import Constraints, compile_constraints
from charzoo.datasets import load_names
from charzoo.steered import constrained_sample
from charzoo.steering import Rows, enumerate_language

NAMES = load_names()


@pytest.fixture(scope="module")
def ngram():
    return CharNGram(order=3, random_state=0).fit(NAMES)


@pytest.fixture(scope="module")
def gru():
    return CharGRU(
        n_embd=8, n_hidden=24, max_steps=40, batch_size=32, verbose=False, random_state=0
    ).fit(NAMES[:400])


def exact(model, temperature=1.0, top_k=None, **kwargs):
    """The exact conditional {text: probability} by enumeration."""
    spec = Constraints.from_args(**kwargs)
    automaton = compile_constraints(spec, model.tokenizer_, "", 32)
    rows = Rows(model._decoder, torch.zeros(0, dtype=torch.long))
    ids, log_probs = enumerate_language(rows, automaton, temperature, top_k, None)
    probs = torch.softmax(log_probs, dim=0).numpy()
    return {model.tokenizer_.decode(i): p for i, p in zip(ids, probs)}


def tv(samples, target):
    counts = collections.Counter(samples)
    assert set(counts) <= set(target)
    return 0.5 * sum(abs(counts.get(t, 0) / len(samples) - p) for t, p in target.items())


SMALL = dict(length=2, chars="aeiln")  # 25 texts


@pytest.mark.parametrize("name", ["ngram", "gru"])
def test_enumeration_matches_score_samples(name, request):
    model = request.getfixturevalue(name)
    target = exact(model, **SMALL)
    assert len(target) == 25
    scores = model.score_samples(list(target))
    expected = np.exp(scores - np.logaddexp.reduce(scores))
    np.testing.assert_allclose(list(target.values()), expected, rtol=1e-4)


@pytest.mark.parametrize("name", ["ngram", "gru"])
def test_exact_sampling_passes_a_goodness_of_fit_test(name, request):
    model = request.getfixturevalue(name)
    target = exact(model, **SMALL)
    samples = model.generate(4000, random_state=0, **SMALL)
    counts = collections.Counter(samples)
    texts = sorted(target, key=target.get)
    expected = np.array([target[t] for t in texts]) * len(samples)
    observed = np.array([counts.get(t, 0) for t in texts], dtype=float)
    small = expected < 5  # merge the rare texts into one bin
    if small.any():
        expected = np.append(expected[~small], expected[small].sum())
        observed = np.append(observed[~small], observed[small].sum())
    assert stats.chisquare(observed, expected).pvalue > 1e-4


@pytest.mark.parametrize("name", ["ngram", "gru"])
def test_particle_sampler_is_near_the_conditional_and_masking_is_not(name, request):
    model = request.getfixturevalue(name)
    target = exact(model, **SMALL)
    spec = Constraints.from_args(**SMALL)
    n = 4000
    floor = tv(
        np.random.default_rng(0).choice(list(target), n, p=list(target.values())).tolist(),
        target,
    )

    def draw(method):
        return constrained_sample(model, n, "", 1.0, None, None, None, 1, spec, method=method)

    assert tv(draw("smc"), target) <= floor + 0.05
    if name == "ngram":  # the trained count model: masking favours truncated names
        assert tv(draw("mask"), target) > floor + 0.1


def test_temperature_and_top_k_apply_before_conditioning(ngram):
    target = exact(ngram, temperature=0.7, top_k=10, **SMALL)
    samples = ngram.generate(3000, temperature=0.7, top_k=10, random_state=2, **SMALL)
    floor = tv(
        np.random.default_rng(1).choice(list(target), 3000, p=list(target.values())).tolist(),
        target,
    )
    assert tv(samples, target) <= floor + 0.03
    with pytest.raises(ValueError, match="drop top_k/top_p"):
        ngram.generate(5, top_k=1, length=4, chars="qx")


def random_pattern(rng):
    atoms = ["a", "e", "[aeiou]", "[^aeiou]", "(an|el|ri)", "[lmnr]", "."]
    parts = []
    for _ in range(rng.integers(1, 4)):
        atom = atoms[rng.integers(len(atoms))]
        parts.append(atom + ["", "?", "*", "+", "{1,2}"][rng.integers(5)])
    return "".join(parts)


def test_every_returned_text_satisfies_every_constraint(ngram):
    rng = np.random.default_rng(0)
    for _ in range(8):
        pattern = random_pattern(rng)
        low = int(rng.integers(2, 6))
        kwargs = dict(pattern=pattern, length=(low, low + 3), not_contains="aa", exclude=NAMES)
        try:
            texts = ngram.generate(30, random_state=int(rng.integers(1000)), **kwargs)
        except ValueError as err:  # an unsatisfiable draw must say so
            assert "no text satisfies" in str(err)
            continue
        for text in texts:
            assert re.fullmatch(pattern, text), (pattern, text)
            assert low <= len(text) <= low + 3 and "aa" not in text and text not in NAMES


def test_the_issue_example_and_prefix(ngram, gru):
    kwargs = dict(length="6-8", starts_with="b", ends_with="ia", contains="ar", exclude=NAMES)
    for model in (ngram, gru):
        texts = model.generate(20, random_state=0, **kwargs)
        assert len(texts) == 20
        for t in texts:
            assert 6 <= len(t) <= 8 and t[0] == "b" and t.endswith("ia") and "ar" in t
            assert t not in NAMES
    texts = ngram.generate(10, prefix="ma", random_state=0, length=5, ends_with="a")
    assert all(len(t) == 5 and t.startswith("ma") and t.endswith("a") for t in texts)


def test_reproducible_and_seeded(ngram):
    kwargs = dict(length="5-7", starts_with="k")
    assert ngram.generate(20, random_state=3, **kwargs) == ngram.generate(
        20, random_state=3, **kwargs
    )
    assert ngram.generate(20, random_state=3, **kwargs) != ngram.generate(
        20, random_state=4, **kwargs
    )
    assert ngram.generate(0, **kwargs) == []


def test_decoder_without_select_is_replayed(ngram, monkeypatch):
    class Plain:  # only start/advance, as a minimal plugin decoder
        def __init__(self, inner):
            self.inner = inner

        def start(self, prefix, n):
            return self.inner.start(prefix, n)

        def advance(self, tokens):
            return self.inner.advance(tokens)

    target = exact(ngram, **SMALL)
    original = ngram._decoder
    monkeypatch.setattr(ngram, "_decoder", lambda: Plain(original()))
    spec = Constraints.from_args(**SMALL)
    samples = constrained_sample(ngram, 3000, "", 1.0, None, None, None, 0, spec, method="smc")
    assert exact(ngram, **SMALL) == pytest.approx(target)
    assert tv(samples, target) < 0.1
    assert ngram.most_likely(3, **SMALL) == sorted(target, key=target.get, reverse=True)[:3]


@pytest.mark.parametrize("name", ["ngram", "gru"])
def test_most_likely_equals_exact_top_n(name, request):
    model = request.getfixturevalue(name)
    kwargs = dict(length=(2, 3), chars="aeilmnrs")
    target = exact(model, **kwargs)
    best, scores = model.most_likely(10, return_scores=True, **kwargs)
    assert best == sorted(target, key=target.get, reverse=True)[:10]
    np.testing.assert_allclose(scores, model.score_samples(best), atol=1e-4)
    assert (np.diff(scores) <= 0).all()
    # the limit of the conditional as the temperature goes to 0
    assert model.generate(3, temperature=0, **kwargs) == [best[0]] * 3


def test_most_likely_autocomplete_and_bound(ngram):
    texts, scores = ngram.most_likely(5, prefix="ma", return_scores=True)
    assert len(texts) == 5 and all(t.startswith("ma") for t in texts)
    np.testing.assert_allclose(scores, ngram.score_samples(texts), atol=1e-4)
    with pytest.warns(RuntimeWarning, match="max_expansions=3"):
        short = ngram.most_likely(5, prefix="ma", max_expansions=3)
    assert short == texts[: len(short)] and len(short) < 5
    with pytest.raises(ValueError, match="max_expansions must be an integer >= 1"):
        ngram.most_likely(5, max_expansions=0)
    assert len(ngram.most_likely(500, length=1, chars="abc")) == 3  # the language is smaller


def test_stream_models_refuse_constraints():
    model = CharNGram(order=2).fit(["abracadabra " * 20])
    with pytest.raises(ValueError, match="needs a document-mode model"):
        model.generate(3, length=4)
    with pytest.raises(ValueError, match="needs a document-mode model"):
        model.most_likely(3)


def test_dynamic_programme_is_exact_for_window_models(ngram, gru):
    spec = Constraints.from_args(length=(2, 6), ends_with="y", chars="aelnry")
    _, by_enumeration = constrained_sample(
        ngram, 1, "", 0.8, None, None, 12, 0, spec, method="exact", return_info=True
    )
    _, by_dp = constrained_sample(
        ngram, 1, "", 0.8, None, None, 12, 0, spec, method="dp", return_info=True
    )
    assert by_dp["log_prob_constraint"] == pytest.approx(by_enumeration["log_prob_constraint"])
    target = exact(ngram, **SMALL)
    spec = Constraints.from_args(**SMALL)
    samples = constrained_sample(ngram, 4000, "", 1.0, None, None, None, 5, spec, method="dp")
    texts = sorted(target, key=target.get)
    observed = collections.Counter(samples)
    expected = np.array([target[t] for t in texts]) * len(samples)
    assert stats.chisquare([observed.get(t, 0) for t in texts], expected).pvalue > 1e-4
    # a long-range constraint no enumeration covers: auto picks the dynamic programme
    texts, info = constrained_sample(
        ngram, 50, "", 1.0, None, None, None, 0, Constraints.from_args(ends_with="y"),
        return_info=True,
    )  # fmt: skip
    assert info["method"] == "dp" and all(t.endswith("y") for t in texts)
    with pytest.raises(ValueError, match="method='dp' needs a finite-context"):
        constrained_sample(gru, 5, "", 1.0, None, None, None, 0, spec, method="dp")
