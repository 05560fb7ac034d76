"""What :class:`~charzoo.classifier.CharLMClassifier` needs besides its members: checks of
labelled input, class priors, and the calibration of class log-likelihoods on held-out scores.

Calibration maps the class log-likelihoods ``ll`` (one column per class) of a text to

    logits_k = ll_k / T + log_prior_k + b_k

and fits the temperature ``T > 0`` (and, with ``"temperature+bias"``, the per-class bias ``b``,
lightly L2-regularised towards 0) by minimising the log-loss of the softmax of the logits on
out-of-fold scores: texts scored by class models that never saw them. ``"matrix"`` replaces
``ll / T`` by ``W ll`` with a full matrix ``W`` (every class's score may weigh every class
model's log-likelihood: matrix scaling, a multinomial logistic regression on the
log-likelihoods, L2-regularised).
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

__all__ = ["CALIBRATIONS", "check_labelled", "check_priors", "fit_calibration"]

CALIBRATIONS = ("temperature", "temperature+bias", "matrix")
_MATRIX_C = 0.1  # inverse L2 strength of the matrix (the benchmark search used 0.1)
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
) -> tuple[np.ndarray, np.ndarray]:
    """The weights ``W`` and per-class bias ``b`` that minimise the log-loss of
    ``softmax(ll @ W.T + log_prior + b)`` on held-out scores.

    Parameters
    ----------
    log_likelihood : ndarray of shape (n_texts, n_classes)
        Out-of-fold class log-likelihoods.
    targets : ndarray of shape (n_texts,)
        Index of each text's class.
    log_prior : ndarray of shape (n_classes,)
    kind : {"temperature", "temperature+bias", "matrix"}

    Returns
    -------
    coef : ndarray of shape (n_classes, n_classes)
        ``I / T`` for the temperature kinds.
    bias : ndarray of shape (n_classes,)
    """
    k = log_likelihood.shape[1]
    if kind == "matrix":
        return _fit_matrix(log_likelihood, targets, log_prior)
    temperature, bias = _fit_temperature(log_likelihood, targets, log_prior, kind)
    return np.eye(k) / temperature, bias


def _fit_matrix(
    log_likelihood: np.ndarray, targets: np.ndarray, log_prior: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    scale = float(np.std(log_likelihood)) or 1.0  # well-conditioned features for lbfgs
    model = LogisticRegression(C=_MATRIX_C * scale**2, max_iter=5000)
    model.fit(log_likelihood / scale, targets)
    k = log_likelihood.shape[1]
    coef, intercept = np.zeros((k, k)), np.zeros(k)
    if k == 2:  # scikit-learn's binary model: one row for class 1
        coef[1], intercept[1] = model.coef_[0] / scale, model.intercept_[0]
    else:
        coef[model.classes_], intercept[model.classes_] = model.coef_ / scale, model.intercept_
    return coef, intercept - log_prior  # the intercept holds the priors of the training data


def _fit_temperature(
    log_likelihood: np.ndarray, targets: np.ndarray, log_prior: np.ndarray, kind: str
) -> tuple[float, np.ndarray]:
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
