"""The shared layers: charzoo's CPU dropout against torch's semantics, and its use by the models."""

from __future__ import annotations

import pytest
import torch

from charzoo import CharGRU, CharMLP, CharTransformer, CharWaveNet
from charzoo.layers import Dropout


@pytest.mark.parametrize("p", [0.05, 0.15, 0.5])
def test_dropout_keeps_one_minus_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    x = torch.ones(400_000)
    y = Dropout(p).train()(x)
    kept = y != 0
    n = x.numel()
    assert abs(float(kept.float().mean()) - (1 - p)) < 4 * (p * (1 - p) / n) ** 0.5
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert abs(float(y.mean()) - 1.0) < 0.01  # the expectation is kept (inverted dropout)


def test_dropout_gradient_is_the_mask_it_applied():
    torch.manual_seed(1)
    x = torch.randn(64, 16, 32, requires_grad=True)
    y = Dropout(0.3).train()(x)
    y.sum().backward()
    assert torch.equal(x.grad, (y != 0).float() / 0.7)


def test_dropout_is_the_identity_in_eval_and_at_zero():
    x = torch.randn(8, 5)
    assert Dropout(0.4).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))  # torch's rule at p = 1


def test_dropout_masks_follow_the_seed_and_not_the_thread_count():
    threads = torch.get_num_threads()
    x = torch.ones(50_000)
    masks = []
    try:
        for n_threads in (1, 2, 1):
            torch.set_num_threads(n_threads)
            torch.manual_seed(7)
            masks.append(Dropout(0.2).train()(x))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(masks[0], masks[1]) and torch.equal(masks[0], masks[2])


def test_dropout_keeps_the_dtype_and_has_no_state():
    x = torch.ones(1000, dtype=torch.bfloat16)
    y = Dropout(0.25).train()(x)
    assert y.dtype == torch.bfloat16
    assert set(y.unique().tolist()) <= {0.0, float(torch.tensor(4 / 3, dtype=torch.bfloat16))}
    assert Dropout(0.25).state_dict() == {}
    assert isinstance(Dropout(0.25), torch.nn.Dropout)


@pytest.mark.parametrize(
    "model",
    [
        CharMLP(dropout=0.1),
        CharWaveNet(dropout=0.1),
        CharGRU(dropout=0.1),
        CharTransformer(dropout=0.1, n_layers=2),
    ],
    ids=lambda m: type(m).__name__,
)
def test_models_drop_out_through_the_shared_layer(model, small_names):
    train, _ = small_names
    model.set_params(max_steps=2, random_state=0).fit(train[:100])
    drops = [m for m in model.module_.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops and all(type(m) is Dropout for m in drops)
