"""Tests of the template plugin: charzoo's conformance checks plus the model's own behaviour."""

import math

import pytest
from charzoo_template import CharTinyCNN

import charzoo
from charzoo.datasets import load_names, train_val_test_split
from charzoo.testing import parametrize_with_checks
from charzoo.utils import torch_threads


# Every check of the charzoo estimator contract (fit/generate/score, determinism, clone,
# save/load, GridSearchCV, bad input), each a separate test, on a tiny version of the model.
@parametrize_with_checks([CharTinyCNN])
def test_charzoo_conformance(estimator, check):
    check(estimator)


def test_registered_through_the_entry_point():
    info = charzoo.model_info("tinycnn")
    assert info.cls is CharTinyCNN
    assert (info.package, info.plugin) == ("charzoo-template", "tinycnn")
    assert isinstance(charzoo.create_model("tinycnn", n_channels=8), CharTinyCNN)


def test_kernel_larger_than_context_is_rejected_at_fit():
    model = CharTinyCNN(block_size=2, kernel_size=3)  # no validation in __init__
    with pytest.raises(ValueError, match="kernel_size=3 must not exceed block_size=2"):
        model.fit(["anna", "bob"])


@pytest.fixture
def one_thread():
    """Tiny models train fastest on one thread (and do not fight other jobs for the cores)."""
    with torch_threads(1):
        yield


def test_learns_names_better_than_uniform_and_unigram(one_thread):
    train, _, test = train_val_test_split(load_names()[:3000], random_state=0)
    model = CharTinyCNN(max_steps=300, batch_size=64, random_state=0).fit(train)
    nll = math.log(model.score(test))
    assert nll < 2.6  # a unigram model of names scores ~2.9 nats, uniform ln(27) = 3.3
