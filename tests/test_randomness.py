"""Private randomness: fits draw only from their own generators (issue 26, point 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed

from charzoo import CharGRU, CharLSTM, CharMLP, CharTransformer
from charzoo.datasets import load_names
from charzoo.rng import current_generator, private_init, private_randomness

NAMES = load_names()[:300]
MODELS = {
    "mlp": (CharMLP, {"dropout": 0.5}),
    "gru": (CharGRU, {"dropout": 0.3, "n_layers": 2, "n_embd": 8, "n_hidden": 16}),
    "lstm": (CharLSTM, {"dropout": 0.3, "n_layers": 2, "n_embd": 8, "n_hidden": 16}),
    "transformer": (CharTransformer, {"dropout": 0.3, "n_embd": 16, "n_heads": 2, "n_layers": 1}),
}


def _fit(name: str) -> np.ndarray:
    cls, params = MODELS[name]
    model = cls(random_state=0, max_steps=20, batch_size=16, verbose=False, n_threads=1, **params)
    return model.fit(NAMES).score_samples(NAMES[:20])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_threaded_fits_are_bit_identical_and_leave_the_global_generator_alone(name):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    reference = _fit(name)
    assert torch.equal(before, torch.random.get_rng_state()), "fit read or wrote the global seed"
    results = Parallel(n_jobs=4, backend="threading")(delayed(_fit)(name) for _ in range(4))
    for result in results:
        np.testing.assert_array_equal(result, reference)
    torch.manual_seed(999)  # a different global seed changes nothing
    np.testing.assert_array_equal(_fit(name), reference)


def test_dropout_draws_from_the_fit_generator_only_inside_a_fit():
    assert current_generator() is None
    with private_randomness(7):
        first = torch.rand(3, generator=current_generator())
        with private_init():
            layer = torch.nn.Linear(4, 4)
    with private_randomness(7):
        assert torch.equal(torch.rand(3, generator=current_generator()), first)
        with private_init():
            again = torch.nn.Linear(4, 4)
    assert torch.equal(layer.weight, again.weight)  # one stream per fit, from its seed
    with private_randomness(7), private_init():
        fresh = torch.nn.Linear(4, 4)  # init drew before the three numbers: other weights
    assert not torch.equal(layer.weight, fresh.weight)
    assert current_generator() is None
