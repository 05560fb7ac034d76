"""Reusable conformance checks for charzoo models, for plugin authors and built-in models.

The checks are the estimator contract of :class:`charzoo.base.CharLM` written as functions,
in the style of scikit-learn's ``check_estimator``: each takes ``(name, estimator)``, fits
clones of the estimator on a few hundred real names (or a few thousand characters of
Shakespeare), and raises ``AssertionError`` with a readable message when the contract is
broken. Besides the scikit-learn contract they check that the model is a probability model,
in document and stream mode: :meth:`~charzoo.proba.NextCharMixin.next_char_proba` sums to 1
over the vocabulary and the end marker, ``score_samples`` is its chain rule and ``generate``
draws from it (see :mod:`charzoo.checks`).

Two ways to use them::

    from charzoo.testing import check_model
    check_model(CharTinyCNN)          # every check, at the class's own _test_params size

    from charzoo.testing import parametrize_with_checks

    @parametrize_with_checks([CharTinyCNN(n_channels=8)])
    def test_conformance(estimator, check):                   # one pytest test per check
        check(estimator)

To stay fast, every estimator is made *tiny* before checking: :data:`TINY_PARAMS` (few training
steps, small batches, a fixed ``random_state``) is applied to the parameters the model has, then
the class's own ``_test_params`` (its size parameters at a small value, declared next to its
code: the suite never guesses sizes from parameter names, and refuses a class without them),
then ``check_params`` on top.

The model must be registered (through a ``charzoo_register_models`` hook and the ``charzoo``
entry-point group) for the checks in :data:`NEEDS_REGISTRATION` (registration and the
save/load checks): install the plugin package (``pip install -e .``) before running its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from sklearn.base import clone

from charzoo import checks
from charzoo.base import CharLM
from charzoo.checks import *  # noqa: F403 - every check, importable from here as before
from charzoo.checks import CHECKS, NEEDS_REGISTRATION

__all__ = [
    "NEEDS_REGISTRATION",
    "TINY_PARAMS",
    "all_checks",
    "check_model",
    "make_tiny",
    "parametrize_with_checks",
    *(name for name in checks.__all__ if name.startswith("check_")),
]

# Applied to the parameters an estimator has (before ``check_params``): a few steps of training
# are enough to exercise the whole contract.
TINY_PARAMS: dict = {
    "max_steps": 20,
    "batch_size": 16,
    "eval_interval": 10,
    "random_state": 0,
    "verbose": False,
    "device": "cpu",
}


# ------------------------------------------------------------------------- tiny estimators
def make_tiny(estimator: CharLM | type, check_params: dict | None = None) -> CharLM:
    """An unfitted copy of ``estimator`` (a class or an instance) set up for fast checks.

    Parameters
    ----------
    estimator : CharLM subclass or instance
        A class is instantiated with its defaults; an instance is cloned (keeping its params).
    check_params : dict, optional
        Parameters set last, over :data:`TINY_PARAMS` (a few training steps) and the class's
        own ``_test_params`` (its tiny size).

    Returns
    -------
    CharLM

    Raises
    ------
    TypeError
        For a class that declares no ``_test_params``.
    """
    if isinstance(estimator, type):
        if not issubclass(estimator, CharLM):
            raise TypeError(f"{estimator.__name__} is not a charzoo.base.CharLM subclass")
        estimator = estimator()
    elif not isinstance(estimator, CharLM):
        raise TypeError(f"{estimator!r} is not a charzoo.base.CharLM instance")
    estimator = clone(estimator)
    own = type(estimator)._test_params
    if own is None:
        raise TypeError(
            f"{type(estimator).__name__} declares no test settings: give the class a "
            "`_test_params` dict of the parameters that make it small (e.g. "
            '{"n_embd": 16, "n_hidden": 32}; {} for a model that is small anyway), so the '
            "conformance checks run it at a size its author chose (see docs/plugins.md)"
        )
    names = set(estimator.get_params(deep=False))
    params = {k: v for k, v in TINY_PARAMS.items() if k in names}
    params.update(own)
    params.update(check_params or {})
    return estimator.set_params(**params)


def all_checks(estimator: CharLM | None = None) -> Iterator[Callable[[CharLM], None]]:
    """Yield every check function; each is called as ``check(tiny_estimator)``."""
    yield from CHECKS


def check_model(estimator: CharLM | type, check_params: dict | None = None) -> None:
    """Run every conformance check on ``estimator`` (a CharLM class or instance).

    Parameters
    ----------
    estimator : CharLM subclass or instance
    check_params : dict, optional
        Parameters that make the model tiny, applied after :data:`TINY_PARAMS`.

    Raises
    ------
    AssertionError
        Naming the failed check and what is wrong.
    """
    tiny = make_tiny(estimator, check_params)
    for check in all_checks(tiny):
        try:
            check(tiny)
        except AssertionError as exc:
            raise AssertionError(f"{check.__name__} failed for {tiny!r}: {exc}") from exc


def parametrize_with_checks(
    estimators: Iterable[CharLM | type], check_params: dict | None = None
) -> Callable:
    """A ``pytest.mark.parametrize`` over (tiny estimator, check) pairs.

    Parameters
    ----------
    estimators : iterable of CharLM subclasses or instances
    check_params : dict, optional
        Either parameters applied to every estimator, or a dict mapping a class (or its name)
        to the parameters of that class.

    Examples
    --------
    ::

        @parametrize_with_checks([CharTinyCNN], check_params={"n_channels": 8})
        def test_conformance(estimator, check):
            check(estimator)
    """
    import pytest

    estimators = list(estimators)
    per_class = check_params is not None and any(
        isinstance(k, type) or k in {_class_of(e).__name__ for e in estimators}
        for k in check_params
    )
    cases = []
    for est in estimators:
        cls = _class_of(est)
        params = check_params
        if per_class:
            params = check_params.get(cls, check_params.get(cls.__name__))
        tiny = make_tiny(est, params)
        for check in all_checks(tiny):
            cases.append(pytest.param(tiny, check, id=f"{cls.__name__}-{check.__name__}"))
    return pytest.mark.parametrize("estimator, check", cases)


def _class_of(estimator: CharLM | type) -> type:
    return estimator if isinstance(estimator, type) else type(estimator)
