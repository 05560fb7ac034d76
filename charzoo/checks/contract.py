"""The estimator-contract checks: registration, parameters, clone, fit/generate/score,
stream mode, determinism, save/load, grid search and bad input."""

from __future__ import annotations

import inspect
import math
import os
import pickle
import tempfile
import warnings
from collections.abc import Callable

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from charzoo.base import CharLM
from charzoo.checks._common import (
    _common_names,
    _fitted,
    _name,
    _names,
    _one_thread,
    _same_params,
    _stream,
)
from charzoo.metrics import perplexity_scorer

__all__ = [
    "check_registered",
    "check_init_stores_params",
    "check_clone_and_params",
    "check_unfitted_raises",
    "check_fit_generate_score",
    "check_constrained_generation",
    "check_stream_mode",
    "check_random_state",
    "check_save_load",
    "check_grid_search",
    "check_bad_input",
]


# ---------------------------------------------------------------------------------- checks
def check_registered(estimator: CharLM) -> None:
    """The class is registered with charzoo (needed by ``charzoo.load`` and the CLI)."""
    from charzoo.registry import registered_name

    info = registered_name(type(estimator))
    assert info is not None, (
        f"{_name(estimator)} is not in charzoo.list_models(); register it in a "
        "charzoo_register_models hook exposed through the 'charzoo' entry-point group, and "
        "install the package (pip install -e .)"
    )


@_one_thread
def check_init_stores_params(estimator: CharLM) -> None:
    """``__init__`` only stores its arguments (no validation, no other attributes)."""
    cls = type(estimator)
    params = estimator.get_params(deep=False)
    signature = inspect.signature(cls.__init__)
    kinds = {p.kind for p in signature.parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds, (
        f"{cls.__name__}.__init__ signature still shows **kwargs; subclass CharLM (which "
        "publishes the merged signature) instead of wrapping __init__"
    )
    fresh = cls(**params)
    extra = set(vars(fresh)) - set(params)
    assert not extra, f"{cls.__name__}.__init__ sets attributes that are not parameters: {extra}"
    for key, value in params.items():
        assert getattr(fresh, key) is value, (
            f"{cls.__name__}.__init__ changed parameter {key}={value!r} to "
            f"{getattr(fresh, key)!r}; store arguments unchanged and validate in fit"
        )
    constraints = cls._all_parameter_constraints()
    missing = set(params) - set(constraints)
    assert not missing, (
        f"{cls.__name__} has no _parameter_constraints entry for {sorted(missing)}; declare "
        "them so fit validates every hyperparameter"
    )


@_one_thread
def check_clone_and_params(estimator: CharLM) -> None:
    """``clone``, ``get_params``/``set_params`` and ``repr`` round trip."""
    params = estimator.get_params(deep=False)
    twin = clone(estimator)
    assert twin is not estimator and _same_params(twin.get_params(deep=False), params)
    assert type(twin).__name__ in repr(twin)
    fitted = clone(_fitted(estimator))
    assert not hasattr(fitted, "module_"), "clone of a fitted model must be unfitted"
    assert _same_params(fitted.get_params(deep=False), params)
    key = "random_state"
    assert twin.set_params(**{key: 123}) is twin and twin.get_params()[key] == 123


@_one_thread
def check_unfitted_raises(estimator: CharLM) -> None:
    """``generate``, ``score`` and ``save`` before ``fit`` raise clear errors."""
    model = clone(estimator)
    for call in (lambda: model.generate(1), lambda: model.score(["ab"])):
        try:
            call()
        except NotFittedError:
            continue
        raise AssertionError(f"{_name(model)} did not raise NotFittedError before fit")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model.save(os.path.join(tmp, "m.cz"))
        except ValueError:
            pass
        else:
            raise AssertionError(f"{_name(model)}.save before fit did not raise ValueError")


@_one_thread
def check_fit_generate_score(estimator: CharLM) -> None:
    """Fit on real names, then generate (prefix, greedy) and score consistently."""
    train, test = _names()
    model = _fitted(estimator)
    assert model.mode_ == "document"
    vocab = model.tokenizer_.vocab_size
    assert vocab == len(set("".join(train))) + 1, "vocabulary = training characters + boundary"
    samples = model.generate(6, prefix="ma", temperature=0.8)
    assert isinstance(samples, list) and len(samples) == 6
    assert all(isinstance(s, str) and s.startswith("ma") for s in samples), samples
    assert all(set(s) <= set(model.tokenizer_.chars) for s in samples), samples
    assert all(len(s) <= 2 + 5 for s in model.generate(5, prefix="ma", max_length=5))
    greedy = model.generate(4, temperature=0)
    assert len(set(greedy)) == 1, f"greedy decoding gave different texts: {greedy}"
    assert model.generate(0) == []
    ppl = model.score(test)
    assert isinstance(ppl, float) and math.isfinite(ppl) and ppl >= 1, ppl
    logp = model.score_samples(test)
    assert isinstance(logp, np.ndarray) and logp.shape == (len(test),)
    assert np.all(logp <= 0) and np.all(np.isfinite(logp)), logp
    n_predictions = sum(len(t) + 1 for t in test)  # characters + end marker
    expected = math.exp(-logp.sum() / n_predictions)
    assert math.isclose(ppl, expected, rel_tol=1e-4), (
        f"score() = {ppl} but exp(-sum(score_samples) / predictions) = {expected}"
    )
    train_ppl = model.score(train[:100])
    assert train_ppl < vocab, (
        f"{_name(model)} learned nothing: training perplexity {train_ppl:.2f} is not below "
        f"the uniform model's {vocab} (after the tiny check_params training)"
    )
    # scoring one text at a time gives the same log-likelihood as in a batch
    single = [model.score_samples([t])[0] for t in test[:3]]
    np.testing.assert_allclose(single, logp[:3], rtol=1e-4, atol=1e-4)


def check_constrained_generation(estimator: CharLM) -> None:
    """Constraints hold on every sample (through the model's decoder), and ``most_likely``
    is ordered and scored as ``score_samples`` scores."""
    train, _ = _names()
    model = _fitted(estimator)
    kwargs = {"length": (3, 6), "starts_with": "a", "not_contains": "aa", "exclude": train}
    samples = model.generate(8, random_state=0, **kwargs)
    assert len(samples) == 8 and all(
        3 <= len(s) <= 6 and s[0] == "a" and "aa" not in s and s not in train for s in samples
    ), f"{_name(model)}: constrained samples break the constraints: {samples}"
    small = model.generate(20, length=2, chars="aeln", random_state=0)  # the exact sampler
    assert all(len(s) == 2 and set(s) <= set("aeln") for s in small), small
    texts, scores = model.most_likely(3, prefix="a", max_length=4, return_scores=True)
    assert len(texts) == 3 and all(t.startswith("a") and len(t) <= 5 for t in texts), texts
    assert np.all(np.diff(scores) <= 1e-9), f"most_likely is not ordered: {scores}"
    np.testing.assert_allclose(scores, model.score_samples(texts), rtol=1e-3, atol=1e-3)
    assert (
        model.generate(2, temperature=0, length=2, chars="aeln")
        == [model.most_likely(1, length=2, chars="aeln")[0]] * 2
    )


@_one_thread
def check_stream_mode(estimator: CharLM) -> None:
    """Fit one long text (stream mode) and continue a prefix for ``max_length`` characters."""
    text = _stream()
    model = _fitted(estimator, "stream")
    out = model.generate(2, prefix="ROMEO:", max_length=30)
    assert all(t.startswith("ROMEO:") and len(t) == 36 for t in out), out
    ppl = model.score([text[-500:]])
    assert math.isfinite(ppl) and 1 <= ppl, ppl


@_one_thread
def check_random_state(estimator: CharLM) -> None:
    """Same ``random_state`` gives the same model and samples; sampling seeds are honoured."""
    train, test = _names()
    a = _fitted(estimator)
    b = clone(estimator).fit(train)
    assert a.score(test) == b.score(test), (
        f"{_name(a)}: two fits with the same random_state differ; seed everything fit draws "
        "from random_state"
    )
    assert a.generate(8) == b.generate(8) == a.generate(8), (
        f"{_name(a)}.generate is not reproducible"
    )
    draws = {tuple(a.generate(8, random_state=s)) for s in range(3)}
    assert len(draws) > 1, f"{_name(a)}.generate(random_state=...) ignores its seed"


@_one_thread
def check_save_load(estimator: CharLM) -> None:
    """``save``/``charzoo.load`` and pickle give a model that scores and samples identically."""
    from charzoo.persistence import load_model

    check_registered(estimator)
    _, test = _names()
    model = _fitted(estimator)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.cz")
        model.save(path)
        loaded = load_model(path)
    assert type(loaded) is type(model)
    assert _same_params(loaded.get_params(), model.get_params())
    assert loaded.score(test) == model.score(test), "loaded model scores differently"
    assert loaded.generate(5, random_state=1) == model.generate(5, random_state=1)
    assert loaded.tokenizer_.chars == model.tokenizer_.chars
    restored = pickle.loads(pickle.dumps(model))
    assert restored.score(test) == model.score(test), "pickled model scores differently"


@_one_thread
def check_grid_search(estimator: CharLM) -> None:
    """``GridSearchCV`` with :func:`charzoo.metrics.perplexity_scorer` runs and ranks."""
    texts = _common_names()
    cut = 3 * len(texts) // 4
    search = GridSearchCV(
        clone(estimator),
        {"random_state": [0, 1]},
        scoring=perplexity_scorer,
        cv=[(np.arange(cut), np.arange(cut, len(texts)))],  # one split: two fits
        refit=False,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. the "lower is better" warning
        search.fit(texts)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores <= -1), scores


@_one_thread
def check_bad_input(estimator: CharLM) -> None:
    """Bad texts, unseen characters, bad hyperparameters and sampling options raise clearly."""
    model = _fitted(estimator)
    cases: list[tuple[Callable, type, str]] = [
        (lambda: clone(estimator).fit("emma"), TypeError, "single str"),
        (lambda: clone(estimator).fit([]), ValueError, "empty"),
        (lambda: clone(estimator).fit(["emma", None]), TypeError, "texts[1]"),
        (lambda: clone(estimator).fit(["", ""]), ValueError, "empty"),
        (lambda: clone(estimator).set_params(mode="nope").fit(["ab"]), ValueError, "mode"),
        (lambda: model.score(["anna", "an$a"]), ValueError, "'$'"),
        (lambda: model.generate(2, prefix="Z$"), ValueError, "'Z'"),
        (lambda: model.generate(2, temperature=-1), ValueError, "temperature"),
        (lambda: model.generate(2, top_k=0), ValueError, "top_k"),
        (lambda: model.generate(-1), ValueError, "n must"),
    ]
    if "max_steps" in model.get_params():
        cases.append(
            (lambda: clone(estimator).set_params(max_steps=0).fit(["ab"]), ValueError, "max_steps")
        )
    for call, error, fragment in cases:
        try:
            call()
        except error as exc:
            assert fragment in str(exc), f"{error.__name__} message lacks {fragment!r}: {exc}"
        else:
            raise AssertionError(f"{_name(estimator)}: expected {error.__name__} ({fragment})")
