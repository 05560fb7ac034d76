"""What a meta-model made of charzoo members needs (see
:class:`~charzoo.models.mixture.CharMixture`): validated ``(name, estimator)`` pairs, nested
parameters in scikit-learn's ``<name>__<param>`` style, and fitting one member with a shared
tokenizer (in a joblib worker)."""

from __future__ import annotations

import time

from charzoo.base import CharLM
from charzoo.tokenizer import CharTokenizer

__all__ = ["MembersMixin", "check_members", "fit_member", "is_pairs"]


class MembersMixin:
    """Nested parameters of a meta-model whose ``estimators`` are ``(name, estimator)`` pairs
    (mix in before :class:`~charzoo.base.CharLM`)."""

    def get_params(self, deep: bool = True) -> dict:
        """Parameters of the meta-model and, with ``deep``, of every member as
        ``<name>__<param>`` (and each member itself under its name)."""
        out = super().get_params(deep=False)
        if not deep or not is_pairs(self.estimators):
            return out
        for name, estimator in self.estimators:
            out[name] = estimator
            if hasattr(estimator, "get_params"):
                for key, value in estimator.get_params(deep=True).items():
                    out[f"{name}__{key}"] = value
        return out

    def set_params(self, **params: object):
        """Set the meta-model's parameters, replace a member (``name=estimator``) or set a member's
        parameter (``name__param=value``)."""
        if "estimators" in params:
            self.estimators = params.pop("estimators")
        if is_pairs(self.estimators):
            names = [name for name, _ in self.estimators]
            for key in [k for k in params if "__" not in k and k in names]:
                value = params.pop(key)
                self.estimators = [(n, value if n == key else e) for n, e in self.estimators]
        return super().set_params(**params)


def check_members(members: object, own_params: set[str], owner: str) -> list[tuple[str, CharLM]]:
    """The validated ``(name, estimator)`` pairs of a meta-model ``owner`` whose own
    parameters are ``own_params`` (member names may not clash with them)."""
    if not is_pairs(members) or not members:
        raise ValueError(
            f"estimators must be a non-empty list of (name, estimator) tuples, got "
            f"{members!r}; e.g. [('ngram', CharNGram(order=5)), ('gru', CharGRU())]"
        )
    names = [name for name, _ in members]
    for name, estimator in members:
        if not isinstance(name, str) or not name or "__" in name or "." in name:
            raise ValueError(
                f"estimator name {name!r} is invalid: use a non-empty str without '__' or '.'"
            )
        if name in own_params:
            raise ValueError(
                f"estimator name {name!r} clashes with the {owner} parameter of the same "
                "name; rename the member"
            )
        if isinstance(estimator, type) or not isinstance(estimator, CharLM):
            raise TypeError(
                f"estimator {name!r} must be a charzoo model instance (a CharLM such as "
                f"CharNGram()), got {estimator!r}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"estimator names must be unique, got {names}")
    return list(members)


def is_pairs(value: object) -> bool:
    """Whether ``value`` is a list of 2-tuples (the shape of ``estimators``)."""
    return isinstance(value, list) and all(
        isinstance(item, tuple) and len(item) == 2 for item in value
    )


def fit_member(
    name: str, est: CharLM, train: list[str], held: list[str] | None, tokenizer: CharTokenizer
) -> tuple[CharLM, float]:
    """Fit one member with the shared tokenizer; returns it and the seconds taken."""
    start = time.perf_counter()
    try:
        est.fit(train, validation_texts=held, tokenizer=tokenizer)
    except TypeError as exc:
        if "tokenizer" not in str(exc):
            raise
        raise TypeError(
            f"estimator {name!r} ({type(est).__name__}) cannot be fitted with a shared "
            "tokenizer: its fit() does not accept tokenizer=...; models built on "
            "charzoo.base.CharLM without overriding fit do"
        ) from None
    return est, time.perf_counter() - start
