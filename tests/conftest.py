"""Shared fixtures: small slices of the bundled real corpora, tiny model settings."""

from __future__ import annotations

import pytest
import torch

from charzoo.datasets import load_names, load_shakespeare, train_val_test_split

# Tiny test models gain nothing from intra-op threads; one thread avoids oversubscribing the
# two cores when tests run beside other work.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def names_split():
    """The documented names split (random_state=42): train, val, test."""
    return train_val_test_split(load_names(), random_state=42)


@pytest.fixture(scope="session")
def small_names(names_split):
    """2,000 training names and 300 test names: enough signal, fast to fit."""
    train, _, test = names_split
    return train[:2000], test[:300]


@pytest.fixture(scope="session")
def shakespeare_text():
    """The first 20,000 characters of tiny-shakespeare."""
    return load_shakespeare()[:20000]


# keyword arguments that make any neural model train in well under a second
TINY = {"max_steps": 60, "batch_size": 32, "random_state": 0}
