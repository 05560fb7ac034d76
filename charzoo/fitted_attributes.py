"""The fitted attributes a model file keeps: declared by each class next to its code.

Every class declares, in a ``_fitted_attributes`` class attribute, the fitted attributes
(names ending in ``_``) that a saved model must get back on load, each with a validator: a
function of the JSON value returning True for a plausible value. Declarations merge along the
class hierarchy (the nearest class wins), like ``_parameter_constraints``::

    from charzoo.fitted_attributes import count, number_dict

    class CharMyModel(NeuralWindowLM):
        _fitted_attributes = {"n_merges_": count, "merge_losses_": number_dict}

``save`` writes the declared attributes the model has, as JSON; ``charzoo.load`` checks every
stored attribute with its validator (an undeclared name is refused, so a file can never set
``score`` or ``module_``) and sets it. The weights (``module_``), the tokenizer
(``tokenizer_``) and a meta-model's members travel separately; attributes computed from them
(``weights_``, ``n_parameters_``) need no declaration. :func:`fitted_attributes` lists the
declared names of a model (the conformance suite checks that each survives a round trip).
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = [
    "MAX_TEXT_LENGTH",
    "count",
    "declared_fitted_attributes",
    "fitted_attributes",
    "history",
    "number_dict",
    "optional_count",
    "short_text",
]

MAX_TEXT_LENGTH = 10**10  # the longest text a plausible file records (characters)
_HISTORY_KEYS = ("step", "train_loss", "val_loss", "lr")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def count(value: object) -> bool:
    """A non-negative int."""
    return _is_int(value) and value >= 0


def optional_count(value: object) -> bool:
    """None or a non-negative int."""
    return value is None or count(value)


def short_text(value: object) -> bool:
    """A str shorter than 100 characters."""
    return isinstance(value, str) and len(value) < 100


def number_dict(value: object) -> bool:
    """A dict of short str keys to numbers (None for a non-finite one)."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and len(k) < 200 and _is_number(v) for k, v in value.items()
    )


def non_negative_number_dict(value: object) -> bool:
    """A :func:`number_dict` whose numbers are finite and >= 0 (durations)."""
    return number_dict(value) and all(
        v is None or (math.isfinite(v) and v >= 0) for v in value.values()
    )


def history(value: object) -> bool:
    """A training history: lists of numbers under step/train_loss/val_loss/lr."""
    return (
        isinstance(value, dict)
        and set(value) <= set(_HISTORY_KEYS)
        and all(isinstance(x, list) and all(map(_is_number, x)) for x in value.values())
    )


def data_mode(value: object) -> bool:
    """ "document" or "stream"."""
    return value in ("document", "stream")


def text_length(value: object) -> bool:
    """A plausible text length (0 to 10**10 characters)."""
    return _is_int(value) and 0 <= value <= MAX_TEXT_LENGTH


def declared_fitted_attributes(cls: type) -> dict[str, Callable[[object], bool]]:
    """Name -> validator of every fitted attribute ``cls`` and its bases declare."""
    merged: dict = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get("_fitted_attributes", {}))
    return merged


def fitted_attributes(model: object) -> list[str]:
    """The names of the fitted attributes a model file keeps for ``model`` (an estimator or
    its class), sorted.

    Examples
    --------
    >>> from charzoo import CharNGram
    >>> from charzoo.fitted_attributes import fitted_attributes
    >>> fitted_attributes(CharNGram)
    ['max_text_length_', 'mode_']
    """
    cls = model if isinstance(model, type) else type(model)
    return sorted(declared_fitted_attributes(cls))
