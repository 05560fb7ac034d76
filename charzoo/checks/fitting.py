"""Checks of what ``fit`` may change (its input, the parameters, the attributes), that a
second ``fit`` starts from scratch, that scoring and sampling change nothing, and that a
model file (and a pickle) keeps the model in stream mode and every documented fitted
attribute; scikit-learn's own ``__init__``/``set_params`` checks."""

from __future__ import annotations

import copy
import inspect
import math
import os
import pickle
import tempfile
import warnings

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_parameters_default_constructible,
)

from charzoo.base import CharLM
from charzoo.checks._common import (
    _fitted,
    _name,
    _names,
    _one_thread,
    _same_params,
    _same_value,
    _stream,
    fitted_attributes_to_keep,
)
from charzoo.checks.contract import check_registered
from charzoo.registry import registered_name

__all__ = [
    "check_sklearn_init_and_set_params",
    "check_fit_leaves_input_unchanged",
    "check_fit_keeps_params",
    "check_second_fit_starts_fresh",
    "check_methods_leave_model_unchanged",
    "check_save_load_stream",
    "check_fitted_attributes_round_trip",
]


def check_sklearn_init_and_set_params(estimator: CharLM) -> None:
    """scikit-learn's ``check_parameters_default_constructible`` and
    ``check_do_not_raise_errors_in_init_or_set_params``: the defaults are simple values
    stored as given, and ``__init__``/``set_params`` accept any value (validation is
    ``fit``'s job)."""
    name = _name(estimator)
    for check in (
        check_parameters_default_constructible,
        check_do_not_raise_errors_in_init_or_set_params,
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check(name, clone(estimator))
        except Exception as exc:
            raise AssertionError(
                f"{name} fails scikit-learn's {check.__name__}: {type(exc).__name__}: {exc}; "
                "__init__ and set_params must store every argument unchanged (no validation, "
                "coercion or derived values) and leave the checks to fit"
            ) from exc


@_one_thread
def check_fit_leaves_input_unchanged(estimator: CharLM) -> None:
    """``fit`` does not sort, deduplicate, normalise or otherwise change the caller's lists of
    training and validation texts."""
    train, test = _names()
    texts = list(reversed(train[:120])) + [train[0], train[0]]  # unsorted, with duplicates
    validation = list(reversed(test[:10]))
    before, before_val = list(texts), list(validation)
    model = clone(estimator)
    if "validation_texts" in inspect.signature(model.fit).parameters:
        model.fit(texts, validation_texts=validation)
    else:
        model.fit(texts)
    for got, want, what in ((texts, before, "texts"), (validation, before_val, "validation_texts")):
        assert got == want and all(a is b for a, b in zip(got, want)), (
            f"{_name(model)}.fit changed the caller's {what} list (now {len(got)} texts, "
            f"starting {got[:3]!r}; was {len(want)}, starting {want[:3]!r}); fit must work on a "
            "copy and leave its input untouched"
        )


@_one_thread
def check_fit_keeps_params(estimator: CharLM) -> None:
    """scikit-learn's ``check_estimators_overwrite_params`` and
    ``check_dont_overwrite_parameters`` for text: ``fit`` leaves every parameter as it was
    and adds only attributes ending in ``_`` or starting with ``_``."""
    model = clone(estimator)
    params = copy.deepcopy(model.get_params(deep=False))
    attributes = set(vars(model))
    model.fit(_names()[0][:120])
    after = model.get_params(deep=False)
    changed = sorted(k for k in params if not _same_value(params[k], after[k]))
    assert not changed, (
        f"{_name(model)}.fit changed parameter(s) "
        + ", ".join(f"{k}={params[k]!r} -> {after[k]!r}" for k in changed)
        + "; fit must not modify hyperparameters (store what it derives in attributes "
        "ending in '_')"
    )
    added = sorted(
        a for a in set(vars(model)) - attributes if not (a.endswith("_") or a.startswith("_"))
    )
    assert not added, (
        f"{_name(model)}.fit added public attribute(s) {added} that do not end in '_'; "
        "fitted state ends in '_' (scikit-learn convention), private state starts with '_'"
    )


@_one_thread
def check_second_fit_starts_fresh(estimator: CharLM) -> None:
    """Fitting a fitted model again (``warm_start`` off) gives the model a fresh fit gives:
    no weights, vocabulary or statistics carried over from the first fit."""
    train, test = _names()
    from charzoo.datasets import load_names

    other = load_names()[-200:]
    model = clone(estimator)
    if "warm_start" in model.get_params(deep=False):
        model.set_params(warm_start=False)
    fresh = _fitted(estimator)
    model.fit(other)
    try:
        model.fit(train)
    except Exception as exc:
        raise AssertionError(
            f"{_name(model)}: a second fit on other texts failed ({type(exc).__name__}: "
            f"{exc}); without warm_start every fit must start from scratch"
        ) from exc
    got, want = model.score_samples(test), fresh.score_samples(test)
    assert model.tokenizer_ == fresh.tokenizer_ and np.allclose(got, want, rtol=1e-6, atol=1e-6), (
        f"{_name(model)}: fit after an earlier fit gives a different model than a fresh fit "
        f"(log-likelihood of the test names {got.sum():.4f} vs {want.sum():.4f}); without "
        "warm_start=True fit must start from scratch"
    )


def _snapshot(model: CharLM) -> dict:
    return {
        k: (v, copy.deepcopy(v) if isinstance(v, (int, float, str, tuple, list, dict)) else None)
        for k, v in vars(model).items()
    }


@_one_thread
def check_methods_leave_model_unchanged(estimator: CharLM) -> None:
    """A ``check_dict_unchanged`` for text: ``score``, ``score_samples``, ``generate``,
    ``next_char_proba`` and ``save`` (of a registered model) neither add, remove nor replace
    attributes, nor change their values or the weights."""
    model = copy.deepcopy(_fitted(estimator))
    test = _names()[1][:10]
    weights = {k: v.clone() for k, v in model.module_.state_dict().items()}
    before = _snapshot(model)
    with tempfile.TemporaryDirectory() as tmp:
        calls = {
            "score": lambda: model.score(test),
            "score_samples": lambda: model.score_samples(test),
            "generate": lambda: model.generate(3, prefix=test[0][:1], random_state=0),
            "next_char_proba": lambda: model.next_char_proba(test[:3]),
        }
        if registered_name(type(model)) is not None:  # save needs the registry
            calls["save"] = lambda: model.save(os.path.join(tmp, "m.cz"))
        for method, call in calls.items():
            call()
            after = vars(model)
            changed = sorted(set(before) ^ set(after)) + sorted(
                k
                for k in set(before) & set(after)
                if after[k] is not before[k][0]
                or (before[k][1] is not None and not _same_fitted(after[k], before[k][1]))
            )
            assert not changed, (
                f"{_name(model)}.{method} changed the model's attribute(s) {changed}; "
                "scoring, sampling and saving must not modify the estimator"
            )
    for key, value in model.module_.state_dict().items():
        assert torch.equal(value, weights[key]), f"{_name(model)} changed its weights ({key})"


def _round_trips(model: CharLM) -> dict[str, CharLM]:
    from charzoo.persistence import load_model

    check_registered(model)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.cz")
        model.save(path)
        loaded = load_model(path)
    return {"save/load": loaded, "pickle": pickle.loads(pickle.dumps(model))}


@_one_thread
def check_save_load_stream(estimator: CharLM) -> None:
    """A stream-mode model survives save/load and pickle: the same mode, parameters, scores,
    next-character distribution and samples."""
    model = _fitted(estimator, "stream")
    text = _stream()[-400:]
    prefix = "ROMEO:"
    for how, twin in _round_trips(model).items():
        assert type(twin) is type(model) and twin.mode_ == "stream", (
            f"{_name(model)} after {how} is in mode {getattr(twin, 'mode_', None)!r}, not 'stream'"
        )
        assert _same_params(twin.get_params(), model.get_params()), f"{how} changed parameters"
        got, want = twin.score_samples([text]), model.score_samples([text])
        assert np.array_equal(got, want), (
            f"{_name(model)} (stream mode) scores {got[0]:.4f} after {how}, {want[0]:.4f} "
            "before; the model file must keep everything stream-mode scoring uses"
        )
        assert np.array_equal(twin.next_char_proba([prefix]), model.next_char_proba([prefix])), (
            f"{_name(model)} (stream mode): next_char_proba differs after {how}"
        )
        a = twin.generate(2, prefix=prefix, max_length=20, random_state=1)
        b = model.generate(2, prefix=prefix, max_length=20, random_state=1)
        assert a == b, f"{_name(model)} (stream mode) generates {a!r} after {how}, {b!r} before"


def _same_fitted(x: object, y: object) -> bool:
    if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
        return isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and torch.equal(x, y)
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same_fitted(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(map(_same_fitted, x, y))
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
    if hasattr(x, "get_params") or hasattr(y, "get_params"):
        return _same_value(x, y)
    return x == y


@_one_thread
def check_fitted_attributes_round_trip(estimator: CharLM) -> None:
    """Every documented fitted attribute (the class's numpydoc ``Attributes``) that the fitted
    model has survives save/load and pickle with the same value, in document and stream
    mode."""
    for mode in ("document", "stream"):
        model = _fitted(estimator, mode)
        names = fitted_attributes_to_keep(model)
        for how, twin in _round_trips(model).items():
            for name in names:
                assert hasattr(twin, name), (
                    f"{_name(model)} ({mode} mode) loses its fitted attribute {name} on "
                    f"{how}; the model file must keep every documented fitted attribute"
                )
                a, b = getattr(model, name), getattr(twin, name)
                assert _same_fitted(a, b), (
                    f"{_name(model)} ({mode} mode): fitted attribute {name} is {b!r:.80} after "
                    f"{how}, {a!r:.80} before"
                )
