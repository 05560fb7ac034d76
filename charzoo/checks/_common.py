"""Shared by the conformance checks: the tiny real data sets, a cache of fitted clones, the
comparison of parameter dicts and the one-thread wrapper."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import numpy as np
from sklearn.base import clone

from charzoo.base import CharLM

_N_TRAIN, _N_TEST, _STREAM_CHARS = 300, 60, 3000


# ------------------------------------------------------------------------------------ data
@functools.lru_cache(maxsize=1)
def _names() -> tuple[list[str], list[str]]:
    """300 training names and up to 60 test names whose characters all occur in training."""
    from charzoo.datasets import load_names

    names = load_names()
    train = names[:_N_TRAIN]
    alphabet = set("".join(train))
    test = [t for t in names[_N_TRAIN : _N_TRAIN + 2 * _N_TEST] if set(t) <= alphabet]
    return train, test[:_N_TEST]


@functools.lru_cache(maxsize=1)
def _common_names() -> list[str]:
    """Training names made only of frequent letters, so every CV fold knows every character."""
    from collections import Counter

    train = _names()[0]
    counts = Counter("".join(train))
    return [t for t in train if all(counts[c] >= 20 for c in t)][:200]


@functools.lru_cache(maxsize=1)
def _stream() -> str:
    from charzoo.datasets import load_shakespeare

    return load_shakespeare()[:_STREAM_CHARS]


def _training_texts(mode: str) -> list[str]:
    """The texts a check fits in ``mode``: the names, or one stream of Shakespeare."""
    return _names()[0] if mode == "document" else [_stream()]


_FIT_CACHE: dict[tuple, CharLM] = {}


def _fitted(estimator: CharLM, mode: str = "document") -> CharLM:
    """A fitted clone of ``estimator`` on the tiny names (``mode="document"``) or on one text
    of Shakespeare (``mode="stream"``), shared by the checks that do not change it."""
    params = estimator.get_params(deep=False)
    key = (type(estimator), mode, repr(sorted(params.items())))
    if key not in _FIT_CACHE:
        if len(_FIT_CACHE) > 32:
            _FIT_CACHE.clear()
        model = clone(estimator)
        if params.get("mode", "auto") not in ("auto", mode):
            model.set_params(mode=mode)
        _FIT_CACHE[key] = model.fit(_training_texts(mode))
    model = _FIT_CACHE[key]
    assert model.mode_ == mode, f"{_name(model)} fitted in mode {model.mode_!r}, not {mode!r}"
    return model


def _same_params(a: dict, b: dict) -> bool:
    """Parameter dicts are equal; nested estimators (members of a meta-model such as
    ``CharMixture``) are equal when they have the same class and equal parameters."""
    return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)


def _same_value(x: object, y: object) -> bool:
    if hasattr(x, "get_params") or hasattr(y, "get_params"):
        return type(x) is type(y) and _same_params(
            x.get_params(deep=False), y.get_params(deep=False)
        )
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(map(_same_value, x, y))
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.array_equal(x, y)
    return x == y


def _name(estimator: CharLM) -> str:
    return type(estimator).__name__


def _one_thread(check: Callable[[CharLM], None]) -> Callable[[CharLM], None]:
    """Run a check on one torch thread: tiny models are fastest so and tests do not contend."""

    @functools.wraps(check)
    def wrapper(estimator: CharLM) -> None:
        from charzoo.utils import torch_threads

        with torch_threads(1):
            check(estimator)

    return wrapper


def _documented_attributes(cls: type) -> list[str]:
    """Fitted attributes (names ending in ``_``) listed in the numpydoc ``Attributes`` section
    of ``cls`` or of a base class."""
    names: list[str] = []
    for klass in cls.__mro__:
        doc = klass.__dict__.get("__doc__") or ""
        match = re.search(
            r"^\s*Attributes\n\s*-{3,}\n(.*?)(?:^\s*\S[^\n]*\n\s*-{3,}\n|\Z)", doc, re.S | re.M
        )
        if not match:
            continue
        body = match.group(1)
        indent = min(
            (len(line) - len(line.lstrip()) for line in body.splitlines() if line.strip()),
            default=0,
        )
        for line in body.splitlines():
            if line.strip() and len(line) - len(line.lstrip()) == indent:
                name = line.strip().split(":")[0].strip()
                if name.endswith("_") and name not in names:
                    names.append(name)
    return names


def fitted_attributes_to_keep(model: CharLM) -> list[str]:
    """The fitted attributes of ``model`` that save/load and pickle must restore: those its
    class declares (``_fitted_attributes``, see :mod:`charzoo.fitted_attributes`) and those
    it documents (numpydoc ``Attributes``) that the fitted model has, except ``module_`` and
    ``tokenizer_`` (compared through the scores and the vocabulary). The one place that
    decides the list."""
    from charzoo.fitted_attributes import fitted_attributes

    names = dict.fromkeys([*fitted_attributes(type(model)), *_documented_attributes(type(model))])
    return [a for a in names if a not in ("module_", "tokenizer_") and hasattr(model, a)]
