"""charzoo.metrics: exact values of the conversions the CLI and the benchmarks print."""

from __future__ import annotations

import math

import numpy as np
import pytest

from charzoo import CharBigram
from charzoo.datasets import load_names
from charzoo.metrics import (
    bits_per_char,
    nll_from_perplexity,
    perplexity_from_nll,
    perplexity_scorer,
)


def test_bits_per_char_is_log2_of_perplexity():
    assert bits_per_char(8.0) == 3.0
    assert bits_per_char(2.0) == 1.0
    assert bits_per_char(1.0) == 0.0
    assert bits_per_char(27.0) == pytest.approx(4.754887502163468, abs=1e-12)  # uniform names
    assert bits_per_char(math.e) == pytest.approx(1 / math.log(2), abs=1e-12)  # 1 nat


def test_perplexity_from_nll_is_exp_of_mean_nll():
    assert perplexity_from_nll(0.0) == 1.0
    assert perplexity_from_nll(math.log(8)) == pytest.approx(8.0, rel=1e-12)
    assert perplexity_from_nll(2.0) == pytest.approx(7.38905609893065, rel=1e-12)
    assert perplexity_from_nll(2.0) > perplexity_from_nll(1.0) > 1  # worse NLL, worse ppl
    for nll in (0.5, 1.7, 3.3):
        assert nll_from_perplexity(perplexity_from_nll(nll)) == pytest.approx(nll, rel=1e-12)


def test_conversions_agree_with_a_model_score():
    names = load_names()
    model = CharBigram().fit(names[:2000])
    test = names[2000:2100]
    logp = model.score_samples(test)
    nll = -logp.sum() / sum(len(t) + 1 for t in test)  # characters + end markers
    ppl = model.score(test)
    assert ppl == pytest.approx(perplexity_from_nll(nll), rel=1e-9)
    assert bits_per_char(ppl) == pytest.approx(nll / math.log(2), rel=1e-9)
    assert nll_from_perplexity(ppl) == pytest.approx(nll, rel=1e-9)
    assert perplexity_scorer(model, test) == pytest.approx(-ppl, rel=1e-12)
    assert np.isfinite(logp).all()
