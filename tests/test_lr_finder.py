"""charzoo.lr_find: the exponential learning-rate sweep of the makemore lectures."""

from __future__ import annotations

import numpy as np
import pytest

from charzoo import CharBigram, CharMLP, lr_find
from charzoo.lr_finder import LRFindResult, smooth_losses


@pytest.fixture(scope="module")
def sweep(small_names):
    train, _ = small_names
    model = CharMLP(batch_size=32, random_state=0)
    return model, lr_find(model, train, n_steps=100)


def test_sweep_shape_rates_and_suggestion(sweep):
    model, result = sweep
    assert isinstance(result, LRFindResult)
    rates, losses, suggested = result  # unpacks as documented
    assert len(rates) == len(losses) >= 2
    # the lecture's grid 10 ** linspace(-3, 0, n), cut where the loss exploded
    assert np.allclose(rates, np.logspace(-3, 0, 100)[: len(rates)])
    assert np.all(np.isfinite(losses))
    assert rates[0] <= suggested <= rates[-1]
    # training lowers the loss from the near-uniform start ln(27) before the rate explodes
    assert losses[0] == pytest.approx(np.log(27), abs=0.15)
    assert smooth_losses(losses).min() < losses[0] - 0.5
    # the estimator passed in is left untouched (cloned, never fitted)
    assert not hasattr(model, "module_")


def test_sweep_is_reproducible(small_names, sweep):
    train, _ = small_names
    _, first = sweep
    again = lr_find(CharMLP(batch_size=32, random_state=0), train, n_steps=100)
    np.testing.assert_allclose(again.losses, first.losses, rtol=1e-5)


def test_stop_factor_stops_on_explosion(small_names):
    train, _ = small_names
    # from 0.3 to 100 AdamW diverges quickly with clipping off: the sweep stops early
    result = lr_find(
        CharMLP(batch_size=32, grad_clip=None, random_state=0),
        train,
        min_lr=0.3,
        max_lr=100.0,
        n_steps=100,
    )
    assert len(result.rates) < 100


def test_rejects_count_models_and_bad_ranges(small_names):
    train, _ = small_names
    with pytest.raises(TypeError, match="no learning rate"):
        lr_find(CharBigram(), train)
    with pytest.raises(ValueError, match="min_lr"):
        lr_find(CharMLP(), train, min_lr=1.0, max_lr=0.1)
    with pytest.raises(ValueError, match="n_steps"):
        lr_find(CharMLP(), train, n_steps=1)


def test_smooth_losses_is_bias_corrected_ema():
    out = smooth_losses([2.0, 0.0], beta=0.5)
    # step 1: 0.5*2 / (1-0.5) = 2; step 2: (0.5*1 + 0) / 0.75
    np.testing.assert_allclose(out, [2.0, 0.5 / 0.75])
