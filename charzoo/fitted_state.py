"""Fitted state that cannot drift from the hyperparameters.

A fitted model records, in ``fitted_params_``, the *structural* hyperparameters its weights
were fitted with (every hyperparameter except those its classes declare training-only in
``_training_params``, merged along the class hierarchy like ``_parameter_constraints``).
One rule holds for every model, built-in or plugin:

- after ``set_params`` changes a structural hyperparameter (``n_embd``, ``n_heads``,
  ``block_size``, ``order``, ``mode``, a mixture's members, ...), ``score``,
  ``score_samples``, ``generate`` and ``save`` raise :class:`StructureChangedError` (a
  ``ValueError``) naming the parameter, the fitted and the new value, and saying to set it
  back or refit; ``fit`` refits from scratch, and ``fit`` with ``warm_start=True`` raises
  the same error (scikit-learn's convention), as continuing the old weights with a new
  structure cannot work;
- training-only hyperparameters (``learning_rate``, ``dropout``, ``max_steps``,
  ``batch_size``, ...; and the run-time ones ``device``, ``verbose``, ``n_threads``,
  ``random_state``, ``handle_unknown``, ``precision``) may change at any time, for example
  before a ``warm_start`` fit or ``charzoo train --resume``.

``charzoo.load`` sets ``fitted_params_`` from the file's hyperparameters (a save refuses a
drifted model, so the file always holds the structure its weights need).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from sklearn.base import BaseEstimator

from charzoo.param_values import plain_params, with_plain_params

__all__ = [
    "StructureChangedError",
    "check_structure",
    "public_method",
    "record_structure",
    "structural_config",
    "training_params",
]


class StructureChangedError(ValueError):
    """A structural hyperparameter changed since ``fit``; set it back or refit."""


def training_params(cls: type) -> set[str]:
    """The hyperparameters ``cls`` and its bases declare training-only (``_training_params``)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(klass.__dict__.get("_training_params", ()))
    return names


def _config(value: object) -> object:
    """A comparable form of a value: estimators as (class, their structural parameters)."""
    if isinstance(value, BaseEstimator):
        return (type(value).__qualname__, structural_config(value))
    if isinstance(value, (list, tuple)):
        return type(value)(_config(v) for v in value)
    return value


def structural_config(model: BaseEstimator) -> dict:
    """The plain values of ``model``'s structural hyperparameters."""
    skip = training_params(type(model))
    params = model.get_params(deep=False)
    plain = plain_params({k: v for k, v in params.items() if k not in skip}, type(model).__name__)
    return {k: _config(v) for k, v in plain.items()}


def record_structure(model: BaseEstimator) -> None:
    """Remember the structure the weights were fitted with (``fitted_params_``)."""
    model.fitted_params_ = structural_config(model)


def check_structure(model: BaseEstimator, action: str) -> None:
    """Raise :class:`StructureChangedError` when a structural hyperparameter changed since
    the fit (nothing for a model without ``fitted_params_``)."""
    fitted = getattr(model, "fitted_params_", None)
    if fitted is None:
        return
    now = structural_config(model)
    changed = [k for k in sorted(set(fitted) | set(now)) if fitted.get(k) != now.get(k)]
    if not changed:
        return
    name = type(model).__name__
    given = model.get_params(deep=False)
    was = ", ".join(f"{k}={_short(fitted.get(k))}" for k in changed)
    new = ", ".join(f"{k}={_short(given.get(k))}" for k in changed)
    raise StructureChangedError(
        f"{name} cannot {action}: its weights were fitted with {was}, but set_params changed "
        f"it to {new}. Set {'it' if len(changed) == 1 else 'them'} back "
        f"(set_params({was})), or call fit to train a new model with {new} (with "
        "warm_start=False). Only training parameters (learning_rate, dropout, max_steps, "
        "...) may change after fit."
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_ACTIONS = {
    "score": "score",
    "score_samples": "score",
    "generate": "generate",
    "save": "be saved",
}


def public_method(method: Callable) -> Callable:
    """Wrap a public estimator method: plain hyperparameter values in place (see
    :mod:`charzoo.param_values`); for scoring, generation and save, the structure check
    first; for ``fit``, record the structure after a successful fit."""
    if getattr(method, "__wrapped_plain__", False):
        return method
    name = method.__name__
    plain = with_plain_params(method)
    if name == "fit":

        @functools.wraps(method)
        def wrapper(self, *args: object, **kwargs: object) -> object:
            result = plain(self, *args, **kwargs)
            if hasattr(self, "module_"):
                record_structure(self)
            return result

    else:
        action = _ACTIONS.get(name, name.replace("_", " "))

        @functools.wraps(method)
        def wrapper(self, *args: object, **kwargs: object) -> object:
            check_structure(self, action)
            return plain(self, *args, **kwargs)

    wrapper.__wrapped_plain__ = True
    return wrapper


#: Public methods of an estimator class that :func:`public_method` wraps (when defined).
PUBLIC_METHODS = (
    "fit",
    "score",
    "score_samples",
    "generate",
    "most_likely",
    "next_char_proba",
    "save",
    "predict_proba",
)
