"""Scorers and conversions for language-model evaluation.

``CharLM.score`` returns perplexity, where **lower is better**, while scikit-learn's model
selection maximises scores. Use :func:`perplexity_scorer` (minus the perplexity) as
``scoring=`` in ``GridSearchCV``, ``cross_val_score`` and friends.
"""

from __future__ import annotations

import math
import sys
import warnings

__all__ = [
    "bits_per_char",
    "nll_from_perplexity",
    "perplexity_from_nll",
    "perplexity_scorer",
    "warn_if_passthrough_scorer",
]


def perplexity_scorer(estimator, X, y=None) -> float:
    """Scorer returning ``-estimator.score(X)``, so greater is better (sklearn's ``neg_*``).

    Parameters
    ----------
    estimator : CharLM
        A fitted model.
    X : iterable of str
        Texts to evaluate.
    y : None
        Ignored.

    Returns
    -------
    float
        Minus the perplexity of ``X``.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from charzoo import CharMLP
    >>> from charzoo.metrics import perplexity_scorer
    >>> search = GridSearchCV(CharMLP(max_steps=300), {"block_size": [2, 3]},
    ...                       scoring=perplexity_scorer, cv=3)
    """
    return -estimator.score(X)


def nll_from_perplexity(perplexity: float) -> float:
    """Mean negative log-likelihood in nats per character: ``ln(perplexity)``."""
    return math.log(perplexity)


def perplexity_from_nll(nll: float) -> float:
    """Perplexity from a mean negative log-likelihood in nats per character: ``exp(nll)``."""
    return math.exp(nll)


def bits_per_char(perplexity: float) -> float:
    """Mean negative log-likelihood in bits per character: ``log2(perplexity)``."""
    return math.log2(perplexity)


def warn_if_passthrough_scorer(name: str) -> None:
    """Warn when scikit-learn calls ``score`` because no ``scoring`` was given."""
    callers = []
    for depth in range(2, 7):  # score, then charzoo's method wrappers, then the caller
        try:
            callers.append(type(sys._getframe(depth).f_locals.get("self")).__name__)
        except ValueError:
            break
    if "_PassthroughScorer" in callers:
        warnings.warn(
            f"scikit-learn is ranking {name} by .score(), which returns perplexity (lower is "
            "better), so it would pick the worst model. Pass "
            "scoring=charzoo.metrics.perplexity_scorer to GridSearchCV/cross_val_score.",
            UserWarning,
            stacklevel=3,
        )
