"""Hyperparameter values in their Python form: the one place numpy values are normalised.

scikit-learn hands estimators numpy values (``GridSearchCV`` over ``np.arange``/``np.linspace``
grids gives ``np.int64``/``np.float64``; ``np.bool_`` from masks; 0-d arrays from reductions).
charzoo keeps a hyperparameter exactly as it was given (``get_params`` returns the very object,
as scikit-learn's ``clone`` requires, and neither ``__init__``, ``set_params`` nor ``fit``
rewrites it), and everything charzoo does with the values reads their *plain* form:

- numpy integers -> ``int``, numpy floats -> ``float`` (exact: every float16/32/64 value is a
  Python float), numpy bools -> ``bool``, numpy strings -> ``str``;
- 0-d arrays (and one-element 0-d tensors) -> their item, in the same way;
- 1-d arrays -> lists of plain items (``CharMixture(weights=np.array([...]))``); lists keep
  their other items (a list whose items are already plain is returned as the same object).

``fractions.Fraction`` and ``decimal.Decimal`` are refused with a ``TypeError`` naming the
parameter (a Fraction has no exact float, a Decimal is not a number to numpy and torch): pass
a float. :class:`charzoo.base.CharLM` runs ``fit``, ``score``, ``score_samples``,
``generate`` and ``save`` with the plain values in place (the given objects are put back
afterwards), validates the plain values, and writes them to model files, so a file saved
after a search over numpy grids loads with the same values.
"""

from __future__ import annotations

import decimal
import fractions
import functools
from collections.abc import Callable

import numpy as np
import torch

__all__ = ["plain_params", "plain_value"]

_REFUSED = (fractions.Fraction, decimal.Decimal)


def plain_value(value: object) -> object:
    """The Python form of one hyperparameter value (``value`` itself when already plain).

    Examples
    --------
    >>> import numpy as np
    >>> from charzoo.param_values import plain_value
    >>> plain_value(np.int64(3)), plain_value(np.float32(0.5)), plain_value(np.bool_(True))
    (3, 0.5, True)
    >>> plain_value(np.array([0.25, 0.75]))
    [0.25, 0.75]
    """
    if isinstance(value, np.generic):
        return value.item() if not isinstance(value, np.floating) else _exact_float(value)
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return plain_value(value[()])
        if value.ndim == 1:
            return [plain_value(v) for v in value]
        return value
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        return value.item()
    if isinstance(value, list):
        items = [plain_value(v) for v in value]
        if any(a is not b for a, b in zip(items, value)):
            return items
    return value


def _exact_float(value: np.floating) -> object:
    converted = float(value)
    if np.isfinite(value) and converted != value:  # np.longdouble beyond a float
        return value  # refused by plain_params
    return converted


def plain_params(params: dict, owner: str) -> dict:
    """Every value of ``params`` in its plain form (see the module docstring).

    Raises
    ------
    TypeError
        For a ``Fraction`` or ``Decimal`` (also inside a list), or a numpy value with no exact
        Python equivalent, naming the parameter and the fix.
    """
    out = {}
    for key, value in params.items():
        plain = plain_value(value)
        for item in plain if isinstance(plain, list) else [plain]:
            if isinstance(item, (*_REFUSED, np.generic)):
                raise TypeError(
                    f"The {key!r} parameter of {owner} got {item!r} "
                    f"({type(item).__module__}.{type(item).__name__}), which charzoo cannot "
                    f"store exactly; pass a Python float or int instead (e.g. {key}="
                    f"{_suggest(item)})"
                )
        out[key] = plain
    return out


def _suggest(item: object) -> str:
    try:
        return repr(float(item))
    except (TypeError, ValueError, OverflowError):
        return "0.5"


def with_plain_params(method: Callable) -> Callable:
    """Run an estimator method with every hyperparameter in its plain form, then put the
    given objects back (also when the method raises)."""

    @functools.wraps(method)
    def wrapper(self, *args: object, **kwargs: object) -> object:
        given = self.get_params(deep=False)
        plain = plain_params(given, type(self).__name__)
        changed = {k: v for k, v in plain.items() if v is not given[k]}
        if not changed:
            return method(self, *args, **kwargs)
        for key, value in changed.items():
            setattr(self, key, value)
        try:
            return method(self, *args, **kwargs)
        finally:
            for key in changed:
                setattr(self, key, given[key])

    wrapper.__wrapped_plain__ = True
    return wrapper
