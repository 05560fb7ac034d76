"""Faithful hyperparameters and fitted state that cannot drift (issue 26, points 1, 2, 4)."""

from __future__ import annotations

import decimal
import fractions
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import charzoo
from charzoo import CharMLP, CharNGram, CharTransformer
from charzoo.fitted_attributes import count, fitted_attributes
from charzoo.fitted_state import StructureChangedError
from charzoo.metrics import perplexity_scorer
from charzoo.model_file import ModelFileError, check_fitted
from charzoo.models.mixture import CharMixture
from charzoo.param_values import plain_value
from charzoo.registry import get_model_class, list_models
from charzoo.testing import make_tiny

NAMES = charzoo.datasets.load_names()[:200]
TEST = NAMES[:15]
SMALL = {"max_steps": 3, "batch_size": 8, "eval_interval": 3, "n_threads": 1}


def _numpy_form(value: object, kind: int) -> object:
    """One of several numpy spellings of a plain value (``kind`` picks which)."""
    if isinstance(value, bool):
        return [np.bool_(value), np.array(value), value][kind % 3]
    if isinstance(value, int):
        options = [np.int64(value), np.int32(value), np.array(value), np.int16(value)]
        if 0 <= value < 256:
            options.append(np.uint8(value))
        return options[kind % len(options)]
    if isinstance(value, float):
        return [np.float64(value), np.array(value), np.float32(value)][kind % 3]
    return value


def _tiny(name: str) -> charzoo.CharLM:
    model = make_tiny(get_model_class(name))
    names = set(model.get_params(deep=False))
    return model.set_params(**{k: v for k, v in SMALL.items() if k in names})


@pytest.mark.parametrize("name", list_models())
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(kinds=st.lists(st.integers(0, 4), min_size=40, max_size=40))
def test_numpy_typed_parameters_round_trip_exactly(tmp_path_factory, name, kinds):
    model = _tiny(name)
    given_params = model.get_params(deep=False)
    numpy_params = {
        k: _numpy_form(v, kinds[i % len(kinds)]) for i, (k, v) in enumerate(given_params.items())
    }
    model.set_params(**numpy_params)
    model.fit(NAMES)
    after_fit = model.get_params(deep=False)
    rewritten = [k for k, v in numpy_params.items() if after_fit[k] is not v]
    assert not rewritten, f"fit rewrote {rewritten}"
    expected = model.score_samples(TEST)
    path = tmp_path_factory.mktemp("numpy") / f"{name}.cz"
    model.save(path)
    loaded = charzoo.load(path)
    for other in (loaded, pickle.loads(pickle.dumps(model))):
        params = other.get_params(deep=False)
        for key, value in numpy_params.items():
            if key == "estimators":
                continue
            assert params[key] == plain_value(value), key
        np.testing.assert_array_equal(other.score_samples(TEST), expected)
    for key, value in loaded.get_params(deep=False).items():  # the file holds plain values
        if key != "estimators":
            assert type(value) in (int, float, bool, str, list, type(None)), (key, value)
    cloned = clone(model).get_params(deep=False)  # clone keeps (copies of) the values given
    for key, value in numpy_params.items():
        if key != "estimators":
            assert type(cloned[key]) is type(value) and np.all(cloned[key] == value), key


def test_grid_search_over_numpy_grids_then_save_and_load(tmp_path):
    search = GridSearchCV(
        CharMLP(
            n_embd=8,
            n_hidden=16,
            batch_size=16,
            random_state=0,
            n_threads=1,
            handle_unknown="ignore",
        ),
        {"max_steps": np.arange(2, 4), "dropout": np.linspace(0.0, 0.2, 2)},
        scoring=perplexity_scorer,
        cv=2,
    ).fit(NAMES)
    best = search.best_estimator_
    best.save(tmp_path / "best.cz")
    loaded = charzoo.load(tmp_path / "best.cz")
    assert loaded.max_steps == best.max_steps and type(loaded.max_steps) is int
    assert loaded.dropout == best.dropout and type(loaded.dropout) is float
    np.testing.assert_array_equal(loaded.score_samples(TEST), best.score_samples(TEST))


def test_mixture_with_numpy_weights_and_numpy_member_parameters(tmp_path):
    mixture = CharMixture(
        [("a", CharNGram(order=np.int64(3))), ("b", CharNGram(order=np.int32(2)))],
        weights=np.array([0.25, 0.75]),
    ).fit(NAMES)
    mixture.save(tmp_path / "mix.cz")
    loaded = charzoo.load(tmp_path / "mix.cz")
    assert loaded.weights == [0.25, 0.75]
    assert [type(e.order) for e in loaded.estimators_] == [int, int]
    np.testing.assert_array_equal(loaded.score_samples(TEST), mixture.score_samples(TEST))


@pytest.mark.parametrize("value", [fractions.Fraction(1, 3), decimal.Decimal("0.1")])
def test_fraction_and_decimal_are_refused_naming_the_parameter(value):
    with pytest.raises(TypeError, match=r"'dropout' parameter of CharMLP got .*pass a Python"):
        CharMLP(dropout=value, **SMALL).fit(NAMES)
    with pytest.raises(TypeError, match=r"'weights' parameter of CharMixture"):
        CharMixture(weights=[value, 0.5]).fit(NAMES)


def test_a_save_never_writes_what_load_refuses(tmp_path):
    model = CharNGram(order=3).fit(NAMES)
    model.order = object()  # not JSON: would be stored as None, which order refuses
    model.fitted_params_ = {**model.fitted_params_, "order": model.order}
    with pytest.raises(ValueError, match="cannot save CharNGram"), pytest.warns(UserWarning):
        model.save(tmp_path / "x.cz")
    assert not (tmp_path / "x.cz").exists()


# ------------------------------------------------------------------------ structure drift
@pytest.mark.parametrize(
    ("model", "change"),
    [
        (CharMLP(n_embd=8, **SMALL), {"n_embd": 12}),
        (CharMLP(block_size=3, **SMALL), {"block_size": 6}),
        (CharTransformer(n_embd=8, n_heads=2, n_layers=1, block_size=8, **SMALL), {"n_heads": 4}),
        (CharNGram(order=3), {"order": 4}),
        (CharMixture([("a", CharNGram(order=2))], weights="uniform"), {"a__order": 3}),
    ],
    ids=["mlp-n_embd", "mlp-block_size", "transformer-n_heads", "ngram-order", "mixture-member"],
)
def test_a_structural_change_after_fit_asks_for_a_refit(tmp_path, model, change):
    model.fit(NAMES)
    expected = model.score_samples(TEST)
    old = {k: model.get_params()[k] for k in change}
    model.set_params(**change)
    name = next(iter(change)).split("__")[0]
    for action in (
        lambda: model.score(TEST),
        lambda: model.score_samples(TEST),
        lambda: model.generate(2, random_state=0),
        lambda: model.save(tmp_path / "m.cz"),
    ):
        with pytest.raises(StructureChangedError, match=rf"{name}.*call fit"):
            action()
    assert not (tmp_path / "m.cz").exists()
    model.set_params(**old)  # set back: works on the fitted structure again
    np.testing.assert_array_equal(model.score_samples(TEST), expected)
    model.set_params(**change).fit(NAMES)  # a refit adopts the new structure
    model.score(TEST)


def test_warm_start_refuses_a_structural_change_and_accepts_training_ones(tmp_path):
    model = CharMLP(n_embd=8, warm_start=True, **SMALL).fit(NAMES)
    model.set_params(n_embd=16)
    with pytest.raises(StructureChangedError, match=r"continue training .*n_embd=8"):
        model.fit(NAMES)
    assert model.module_ is not None and model.n_steps_ == 3  # the fit is kept
    model.set_params(n_embd=8, dropout=0.3, learning_rate=3e-3, max_steps=2)
    model.fit(NAMES)
    assert model.n_steps_ == 5
    model.save(tmp_path / "m.cz")
    assert charzoo.load(tmp_path / "m.cz").fitted_params_ == model.fitted_params_


# ------------------------------------------------------------------------ fitted attributes
def test_fitted_attributes_are_declared_per_class_and_round_trip(tmp_path):
    assert fitted_attributes(CharNGram) == ["max_text_length_", "mode_"]
    assert {"history_", "n_steps_", "best_step_"} <= set(fitted_attributes(CharMLP()))
    mixture = CharMixture([("a", CharNGram(order=2)), ("b", CharNGram(order=3))]).fit(NAMES)
    assert {"validation_nll_", "n_em_iter_", "fit_seconds_"} <= set(fitted_attributes(mixture))
    mixture.save(tmp_path / "mix.cz")
    loaded = charzoo.load(tmp_path / "mix.cz")
    for name in fitted_attributes(mixture):
        assert getattr(loaded, name) == getattr(mixture, name), name


def test_a_subclass_declares_its_own_fitted_attribute():
    class CharCounted(CharNGram):
        _fitted_attributes = {"n_merges_": count}

    base = {"mode_": "document", "max_text_length_": 3}
    assert check_fitted({**base, "n_merges_": 4}, Path("f.cz"), CharCounted)["n_merges_"] == 4
    with pytest.raises(ModelFileError, match="n_merges_='-1' is invalid"):
        check_fitted({**base, "n_merges_": -1}, Path("f.cz"), CharCounted)
    with pytest.raises(ModelFileError, match=r"unknown fitted attribute\(s\) \['n_merges_'\]"):
        check_fitted({**base, "n_merges_": 4}, Path("f.cz"), CharNGram)
