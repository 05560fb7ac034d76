"""What :class:`~charzoo.classifier.CharLMClassifier` needs besides its members: checks of
labelled input, class priors, and the calibration of class log-likelihoods on held-out scores.

Calibration maps the class log-likelihoods ``ll`` (one column per class) of a text to

    logits_k = ll_k / T + log_prior_k + b_k

and fits the temperature ``T > 0`` (and, with ``"temperature+bias"``, the per-class bias ``b``,
lightly L2-regularised towards 0) by minimising the log-loss of the softmax of the logits on
out-of-fold scores: texts scored by class models that never saw them.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

__all__ = ["CALIBRATIONS", "check_labelled", "check_priors", "fit_calibration"]

CALIBRATIONS = ("temperature", "temperature+bias")
_BIAS_L2 = 1e-3  # per-text penalty on the squared bias: keeps it finite for separable data


def check_texts_input(X: object, name: str = "X") -> list[str]:
    """``X`` as a list of non-empty strings, or a clear ``TypeError``/``ValueError``."""
    if isinstance(X, str):
        raise TypeError(
            f"{name} must be a list of texts, got a single str {X[:30]!r}; wrap it: [{name}]"
        )
    if hasattr(X, "ndim") and getattr(X, "ndim", 1) != 1:
        raise ValueError(f"{name} must be one-dimensional (one text per sample), got shape "
                         f"{X.shape}")  # fmt: skip
    try:
        texts = list(X)
    except TypeError:
        raise TypeError(f"{name} must be an iterable of str, got {type(X).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"{name}[{i}] is {type(text).__name__} {text!r}, not str; a CharLMClassifier "
                "classifies texts (one str per sample)"
            )
        if not text:
            raise ValueError(
                f"{name}[{i}] is an empty string; every text needs at least one character "
                "(remove empty texts)"
            )
    if not texts:
        raise ValueError(f"{name} holds no texts")
    return texts


def check_labelled(X: object, y: object) -> tuple[list[str], np.ndarray]:
    """Texts and a 1-D label array of the same length, with no missing label."""
    from sklearn.utils.multiclass import check_classification_targets, type_of_target

    texts = check_texts_input(X)
    if y is None:
        raise ValueError("y is required: one class label per text of X")
    labels = np.asarray(y, dtype=object if isinstance(y, list) else None)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.ravel()
    if labels.ndim != 1:
        raise ValueError(f"y must be one-dimensional (one label per text), got shape "
                         f"{labels.shape}")  # fmt: skip
    if len(labels) != len(texts):
        raise ValueError(
            f"y has {len(labels)} labels but X has {len(texts)} texts; pass one label per text"
        )
    missing = [i for i, v in enumerate(labels) if v is None or (isinstance(v, Real) and v != v)]
    if missing:
        raise ValueError(
            f"y holds missing labels (None or NaN) at index {missing[:5]}; drop those texts or "
            "give them a label"
        )
    if labels.dtype == object and len({type(v) for v in labels}) == 1:
        labels = np.asarray(labels.tolist())  # plain str or int labels
    if type_of_target(labels) == "continuous":
        raise ValueError("y holds continuous values; a classifier needs class labels (str or int)")
    check_classification_targets(labels)
    return texts, labels


def check_priors(priors: object, n_classes: int, counts: np.ndarray) -> np.ndarray:
    """The class prior probabilities: empirical frequencies, or ``priors`` checked."""
    if priors is None:
        return counts / counts.sum()
    p = np.asarray(priors, dtype=np.float64).reshape(-1)
    if len(p) != n_classes:
        raise ValueError(f"priors must hold one probability per class ({n_classes}), got {len(p)}")
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise ValueError(f"priors must be positive finite probabilities, got {priors!r}")
    if not np.isclose(p.sum(), 1.0):
        raise ValueError(f"priors must sum to 1, got sum {p.sum():.6g}")
    return p


def fit_calibration(
    log_likelihood: np.ndarray, targets: np.ndarray, log_prior: np.ndarray, kind: str
) -> tuple[float, np.ndarray]:
    """The temperature and per-class bias that minimise the log-loss of
    ``softmax(ll / T + log_prior + b)`` on held-out scores.

    Parameters
    ----------
    log_likelihood : ndarray of shape (n_texts, n_classes)
        Out-of-fold class log-likelihoods.
    targets : ndarray of shape (n_texts,)
        Index of each text's class.
    log_prior : ndarray of shape (n_classes,)
    kind : {"temperature", "temperature+bias"}

    Returns
    -------
    temperature : float
    bias : ndarray of shape (n_classes,)
    """
    n, k = log_likelihood.shape
    rows = np.arange(n)
    with_bias = kind == "temperature+bias"

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        inv_t = np.exp(-theta[0])
        bias = theta[1:] if with_bias else np.zeros(k)
        logits = log_likelihood * inv_t + log_prior + bias
        log_p = logits - logsumexp(logits, axis=1, keepdims=True)
        value = -log_p[rows, targets].mean() + _BIAS_L2 * float(bias @ bias)
        resid = np.exp(log_p)
        resid[rows, targets] -= 1.0  # d loss / d logits, per text
        resid /= n
        grad_t = -float((resid * log_likelihood).sum()) * inv_t  # d logits/d theta0 = -ll/T
        grad = [grad_t]
        if with_bias:
            grad.extend(resid.sum(axis=0) + 2 * _BIAS_L2 * bias)
        return value, np.asarray(grad)

    start = np.zeros(1 + (k if with_bias else 0))
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    theta = result.x
    temperature = float(np.exp(theta[0]))
    bias = theta[1:].copy() if with_bias else np.zeros(k)
    return temperature, bias
