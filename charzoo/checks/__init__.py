"""The conformance checks behind :mod:`charzoo.testing`: the estimator contract of
:class:`charzoo.base.CharLM` as functions, each taking a tiny estimator (see
:func:`charzoo.testing.make_tiny`) and raising ``AssertionError`` with a readable message when
the contract is broken. Data: a few hundred real names or a few thousand characters of
Shakespeare from the bundled corpora.

:mod:`~charzoo.checks.contract` holds the estimator contract (parameters, clone, fit, save/load,
grid search, bad input), :mod:`~charzoo.checks.probability` the checks that the model is a
probability model (its next-character distribution, the scores and the samples agree) and
:mod:`~charzoo.checks.fitting` what ``fit`` may change and what a model file must keep.
"""

from __future__ import annotations

from collections.abc import Callable

from charzoo.base import CharLM
from charzoo.checks import contract, fitting, probability
from charzoo.checks.contract import *  # noqa: F403
from charzoo.checks.fitting import *  # noqa: F403
from charzoo.checks.probability import *  # noqa: F403

__all__ = [
    "CHECKS",
    "NEEDS_REGISTRATION",
    *contract.__all__,
    *fitting.__all__,
    *probability.__all__,
]

CHECKS: tuple[Callable[[CharLM], None], ...] = (
    contract.check_registered,
    contract.check_init_stores_params,
    fitting.check_sklearn_init_and_set_params,
    contract.check_clone_and_params,
    contract.check_unfitted_raises,
    contract.check_fit_generate_score,
    contract.check_constrained_generation,
    contract.check_random_state,
    contract.check_save_load,
    contract.check_bad_input,
    contract.check_stream_mode,
    probability.check_next_char_proba,
    probability.check_score_is_chain_rule,
    probability.check_generate_follows_proba,
    fitting.check_fit_leaves_input_unchanged,
    fitting.check_fit_keeps_params,
    fitting.check_second_fit_starts_fresh,
    fitting.check_methods_leave_model_unchanged,
    fitting.check_save_load_stream,
    fitting.check_fitted_attributes_round_trip,
    contract.check_grid_search,
)

NEEDS_REGISTRATION: frozenset[Callable[[CharLM], None]] = frozenset(
    {
        contract.check_registered,
        contract.check_save_load,
        fitting.check_save_load_stream,
        fitting.check_fitted_attributes_round_trip,
    }
)
"""The checks that need the model registered with charzoo (``charzoo.load`` finds the class
through the registry); the others also run on a class defined in a notebook or a test."""
