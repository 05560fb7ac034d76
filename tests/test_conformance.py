"""Every built-in model passes charzoo.testing's conformance checks; the checks catch bugs."""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

import charzoo
import charzoo.datasets
import charzoo.testing
from charzoo.models.bigram import CharBigram
from charzoo.models.mlp import CharMLP
from charzoo.registry import BLOCK_ENV, DISABLE_AUTOLOAD_ENV, reload_plugins
from charzoo.testing import (
    TINY_PARAMS,
    check_clone_and_params,
    check_fitted_attributes_round_trip,
    check_model,
    check_registered,
    make_tiny,
    parametrize_with_checks,
)
from tests.broken_models import CAUGHT_BY, StreamCalibrationLost
from tests.known_failures import run_check

# Built-in models are picked up from the registry, so models added later are checked too, each
# at the tiny size its class declares (``_test_params``).
BUILTIN = [n for n in charzoo.list_models() if charzoo.model_info(n).package == "charzoo"]


@parametrize_with_checks([charzoo.get_model_class(n) for n in BUILTIN])
def test_builtin_model_conformance(estimator, check):
    run_check(estimator, check)


def test_every_builtin_is_checked():
    assert {"bigram", "mlp"} <= set(BUILTIN)


def test_make_tiny_applies_defaults_then_check_params():
    tiny = make_tiny(CharMLP, {"n_hidden": 8, "max_steps": 5})
    assert tiny.n_hidden == 8 and tiny.max_steps == 5
    assert tiny.batch_size == TINY_PARAMS["batch_size"] and tiny.random_state == 0
    assert make_tiny(CharBigram(alpha=0.5)).alpha == 0.5  # instances keep their params
    with pytest.raises(TypeError, match="CharLM"):
        make_tiny(dict)
    assert make_tiny(CharMLP).n_hidden == CharMLP._test_params["n_hidden"]


def test_make_tiny_uses_the_sizes_a_class_declares():
    """A model with unusually named size parameters runs at its own size; one that declares
    none gets a clear error instead of running at full size."""
    from charzoo.models.mlp import MLPModule

    class CharWide(CharMLP):
        _test_params = {"d_state": 4}

        def __init__(self, *, d_state: int = 4096, **kwargs):
            super().__init__(**kwargs)
            self.d_state = d_state

        def _build_module(self):
            return MLPModule(self.tokenizer_.vocab_size, self.block_size, 2, self.d_state, 1)

    assert make_tiny(CharWide).d_state == 4

    class CharUndeclared(CharWide):
        _test_params = None

    with pytest.raises(TypeError, match="CharUndeclared declares no test settings.*_test_params"):
        make_tiny(CharUndeclared)


# --- the checks must fail on models that break the contract --------------------------------
BROKEN_PARAMS = {"n_embd": 8, "n_hidden": 32}


@pytest.fixture(scope="module")
def broken_plugin(tmp_path_factory):
    """tests/broken_models.py installed as the charzoo plugin distribution charzoo-broken."""
    root = tmp_path_factory.mktemp("site")
    info = root / "charzoo_broken-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: charzoo-broken\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[charzoo]\nbroken = tests.broken_models\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        patch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
        patch.delenv(BLOCK_ENV, raising=False)
        importlib.invalidate_caches()
        reload_plugins()
        assert charzoo.model_info("broken-freeendmarker").package == "charzoo-broken"
        yield
    reload_plugins()


@pytest.mark.parametrize(
    "cls, check_name, fragment",
    [pytest.param(cls, *caught, id=cls.__name__) for cls, caught in CAUGHT_BY.items()],
)
def test_named_check_catches_broken_model(broken_plugin, cls, check_name, fragment):
    check = getattr(charzoo.testing, check_name)
    with pytest.raises(AssertionError, match=re.escape(fragment)) as caught:
        check(make_tiny(cls, BROKEN_PARAMS))
    assert cls.__name__ in str(caught.value)


@pytest.mark.parametrize("check_name", sorted({name for name, _ in CAUGHT_BY.values()}))
def test_the_same_checks_pass_the_unbroken_model(check_name):
    """Control: CharMLP with the broken models' settings passes every check that catches them,
    so each failure above comes from the bug."""
    getattr(charzoo.testing, check_name)(make_tiny(CharMLP, BROKEN_PARAMS))


def test_stream_only_attribute_lost_on_load_is_named(broken_plugin):
    with pytest.raises(AssertionError, match=r"\(stream mode\) loses its fitted attribute calibr"):
        check_fitted_attributes_round_trip(make_tiny(StreamCalibrationLost, BROKEN_PARAMS))


class NotRegistered(CharBigram):
    """A model no plugin registers."""


def test_unregistered_model_fails_check_registered():
    with pytest.raises(AssertionError, match="not in charzoo.list_models"):
        check_registered(make_tiny(NotRegistered))
    with pytest.raises(AssertionError, match="check_registered failed"):
        check_model(NotRegistered)
    check_clone_and_params(make_tiny(CharBigram))  # a conforming model passes


def test_chi_square_test_keeps_its_false_alarm_rate():
    """On draws from a known distribution (a skewed one, with cells pooled) the test rejects
    at about its nominal rate; on a real model's own samples it never rejects."""
    from charzoo.checks.probability import ALPHA, _chi_square

    rng = np.random.default_rng(0)
    p = np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.03, 0.01, 0.005, 0.005])
    pvalues = np.array([_chi_square(rng.multinomial(2000, p), p)[2] for _ in range(2000)])
    assert 0.035 < np.mean(pvalues < 0.05) < 0.065  # nominal 0.05 (binomial sd 0.005)
    assert np.mean(pvalues < ALPHA) < 0.003
    assert _chi_square(rng.multinomial(2000, p[::-1]), p)[2] < 1e-12  # and it has power
    model = CharBigram().fit(charzoo.datasets.load_names()[:2000])
    proba = model.next_char_proba(["m"])[0]
    column = {c: j for j, c in enumerate(model.next_char_labels_)}
    for seed in range(20):
        observed = np.zeros(len(proba))
        for text in model.generate(2000, prefix="m", max_length=1, random_state=seed):
            observed[column[text[1:]]] += 1
        assert _chi_square(observed, proba)[2] >= ALPHA
