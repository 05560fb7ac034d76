"""Text classification with character language models: one zoo model per class.

:class:`CharLMClassifier` is a scikit-learn classifier. ``fit(X, y)`` learns one tokenizer
from every text (the *shared vocabulary*), fits one clone of ``estimator`` per class on that
class's texts, and cross-fits a calibration of the class log-likelihoods. A text is assigned
the class whose model gives it the highest (calibrated) log-likelihood plus log prior::

    P(class k | text) = softmax_k( log P_k(text) / T + log prior_k + b_k )
"""

from __future__ import annotations

import time
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from charzoo.base import CharLM
from charzoo.calibration import (
    CALIBRATIONS,
    check_labelled,
    check_priors,
    check_texts_input,
    fit_calibration,
)
from charzoo.hookspecs import hookimpl
from charzoo.params import Options, validate_params
from charzoo.tokenizer import CharTokenizer
from charzoo.utils import seed_from

__all__ = ["CharLMClassifier"]


def default_estimator() -> CharLM:
    """The class model of ``CharLMClassifier()`` (chosen by benchmarks/classify.py)."""
    from charzoo.models.ngram import CharNGram

    return CharNGram(order=6)


class CharLMClassifier(ClassifierMixin, BaseEstimator):
    """Classify texts with one character language model per class.

    ``fit`` learns one :class:`~charzoo.tokenizer.CharTokenizer` from the texts of every class
    and fits a clone of ``estimator`` on each class's texts with it (``fit(texts,
    tokenizer=shared)``): every class model knows every character, so a character a class
    never used is smoothed (made unlikely), not dropped. A text's class scores are the class
    models' log-likelihoods (``score_samples``) plus the log priors; with ``calibration`` a
    temperature (and per-class bias) fitted on out-of-fold scores make ``predict_proba``
    calibrated.

    Parameters
    ----------
    estimator : CharLM, optional
        The class model: any charzoo model (built-in, plugin or a
        :class:`~charzoo.models.mixture.CharMixture`), unfitted. Its parameters are reachable
        as ``estimator__<param>`` (``set_params``, ``GridSearchCV``). Its ``mode`` is set to
        ``"document"`` and its ``handle_unknown`` to this classifier's. Default ``None``: a
        Kneser-Ney ``CharNGram(order=6)``, the best setting of the benchmark search in
        ``benchmarks/results/classify_search.md`` (fits in seconds).
    priors : array-like of shape (n_classes,), optional
        Prior probabilities of the classes (in the order of ``classes_``), as in
        scikit-learn's naive Bayes. Default: the class frequencies of ``y``.
    calibration : {"matrix", "temperature+bias", "temperature"} or None, default="matrix"
        How the class log-likelihoods become probabilities. ``"temperature"`` divides them by
        a temperature ``T`` fitted to the log-loss of out-of-fold scores (``cv`` folds; texts
        are much longer than one character, so raw likelihood ratios are over-confident);
        ``"temperature+bias"`` also fits a bias per class (which then corrects the priors);
        ``"matrix"`` fits a full weight matrix and bias (a multinomial logistic regression
        on the class log-likelihoods: every class model's score counts for every class).
        ``None``: raw log-likelihoods plus log priors (``T = 1``), no extra fits.
    cv : int, default=3
        Folds of the cross-fitting behind ``calibration``: the class models are fitted
        ``cv`` more times on ``(cv - 1) / cv`` of the texts and score the rest. Every class
        needs at least ``cv`` texts.
    handle_unknown : {"ignore", "error"}, default="ignore"
        A character outside the shared vocabulary (seen in no class at ``fit``) at predict
        time: ``"ignore"`` drops it for every class alike (it favours no class), ``"error"``
        raises a ``ValueError`` naming it.
    n_jobs : int, optional
        Class models (and cross-fitting folds) fitted in parallel by joblib (``-1``: all
        cores), in worker processes by default (starting them takes seconds, more than
        fitting a small count model; ``joblib.parallel_config(backend="threading")`` avoids
        that for count models, but neural models seed torch's global generator, so only
        processes keep their fits reproducible). Default: one at a time.
    verbose : bool, default=False
        Progress bars of the class models while they train.
    random_state : int, numpy random generator or None, default=None
        Seeds the folds and every class model whose own ``random_state`` is None.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    estimators_ : list of CharLM
        The fitted class models, in the order of ``classes_``.
    tokenizer_ : CharTokenizer
        The shared vocabulary.
    class_log_prior_ : ndarray of shape (n_classes,)
        Log prior probability of each class.
    coef_ : ndarray of shape (n_classes, n_classes)
        Calibration weights: the class scores are ``log_likelihood @ coef_.T +
        class_log_prior_ + bias_`` (``coef_`` is the identity divided by the temperature,
        except with ``calibration="matrix"``).
    temperature_ : float
        Divides the log-likelihoods (1.0 without calibration).
    bias_ : ndarray of shape (n_classes,)
        Added to the class scores (zeros with ``calibration="temperature"`` or None).
    fit_seconds_ : float
        Seconds ``fit`` took.

    Examples
    --------
    >>> from charzoo import CharLMClassifier
    >>> from charzoo.datasets import load_dinos, load_names
    >>> X = load_names()[:400] + load_dinos()[:400]
    >>> y = ["name"] * 400 + ["dinosaur"] * 400
    >>> clf = CharLMClassifier(random_state=0).fit(X, y)
    >>> clf.predict(["isabella", "brachiosaurus"]).tolist()
    ['name', 'dinosaur']
    """

    _parameter_constraints: dict = {
        "estimator": [CharLM, None],
        "priors": ["array-like", None],
        "calibration": [Options(*CALIBRATIONS), None],
        "cv": [Integral],
        "handle_unknown": [Options("ignore", "error")],
        "n_jobs": [Integral, None],
        "verbose": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator: CharLM | None = None,
        *,
        priors: object = None,
        calibration: str | None = "matrix",
        cv: int = 3,
        handle_unknown: str = "ignore",
        n_jobs: int | None = None,
        verbose: bool = False,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.estimator = estimator
        self.priors = priors
        self.calibration = calibration
        self.cv = cv
        self.handle_unknown = handle_unknown
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    # ------------------------------------------------------------------------- checks
    def _validate_params(self) -> None:
        validate_params(
            self._parameter_constraints, self.get_params(deep=False), type(self).__name__
        )
        if isinstance(self.estimator, type):
            raise TypeError(
                f"estimator must be a charzoo model instance, got the class {self.estimator!r}; "
                f"use {self.estimator.__name__}()"
            )
        if self.cv < 2:
            raise ValueError(f"cv must be at least 2, got {self.cv}; or set calibration=None")

    def _template(self) -> CharLM:
        """An unfitted class model: a clone of ``estimator`` set for document texts."""
        model = default_estimator() if self.estimator is None else clone(self.estimator)
        valid = model.get_params(deep=False)
        model.set_params(mode="document", handle_unknown=self.handle_unknown)
        if "verbose" in valid:
            model.set_params(verbose=self.verbose)
        return model

    # ---------------------------------------------------------------------------- fit
    def fit(self, X, y) -> CharLMClassifier:
        """Fit one class model per class on a shared vocabulary, then the calibration.

        Parameters
        ----------
        X : list of str
            Non-empty texts (words, names, sentences).
        y : array-like of shape (n_texts,)
            Class labels (str or int); at least two classes.

        Returns
        -------
        self
        """
        start = time.perf_counter()
        self._validate_params()
        texts, labels = check_labelled(X, y)
        classes, targets, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise ValueError(
                f"y holds a single class ({classes[0]!r}); a classifier needs at least 2 classes"
            )
        if self.calibration is not None and counts.min() < self.cv:
            small = classes[counts.argmin()]
            raise ValueError(
                f"class {small!r} has {counts.min()} text(s), fewer than cv={self.cv} folds; "
                "set cv lower, calibration=None, or give every class more texts"
            )
        prior = check_priors(self.priors, len(classes), counts.astype(np.float64))
        tokenizer = CharTokenizer(handle_unknown=self.handle_unknown).fit(texts)
        seed = seed_from(self.random_state)
        rng = np.random.RandomState(seed % 2**32)
        template = self._template()
        seeds = rng.randint(0, 2**31 - 1, size=len(classes))
        tasks = []  # (fold, class index, training texts, texts to score)
        folds = self._folds(targets, rng) if self.calibration is not None else []
        for f, held in enumerate(folds):
            for k in range(len(classes)):
                train = [t for i, t in enumerate(texts) if targets[i] == k and not held[i]]
                tasks.append((f, k, train, [t for t, h in zip(texts, held) if h]))
        for k in range(len(classes)):
            tasks.append((None, k, [t for t, c in zip(texts, targets) if c == k], None))
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_class)(_seeded(template, seeds[k]), train, tokenizer, score)
            for _, k, train, score in tasks
        )
        self.classes_ = classes
        self.tokenizer_ = tokenizer
        self.class_log_prior_ = np.log(prior)
        self.estimators_ = [model for (f, _, _, _), model in zip(tasks, results) if f is None]
        self.coef_, self.bias_ = np.eye(len(classes)), np.zeros(len(classes))
        if folds:
            oof = np.zeros((len(texts), len(classes)))
            for (f, k, _, _), scores in zip(tasks, results):
                if f is not None:
                    oof[folds[f], k] = scores
            self.coef_, self.bias_ = fit_calibration(
                oof, targets, self.class_log_prior_, self.calibration
            )
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _folds(self, targets: np.ndarray, rng: np.random.RandomState) -> list[np.ndarray]:
        """Boolean held-out masks of ``cv`` stratified folds."""
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(self.cv, shuffle=True, random_state=rng.randint(2**31 - 1))
        masks = []
        for _, held in splitter.split(np.zeros(len(targets)), targets):
            mask = np.zeros(len(targets), dtype=bool)
            mask[held] = True
            masks.append(mask)
        return masks

    # ------------------------------------------------------------------------ predict
    def class_log_likelihood(self, X) -> np.ndarray:
        """Log-likelihood (nats) of each text under each class model.

        Parameters
        ----------
        X : list of str

        Returns
        -------
        ndarray of shape (n_texts, n_classes)
        """
        check_is_fitted(self, "estimators_")
        texts = check_texts_input(X)
        return np.column_stack([model.score_samples(texts) for model in self.estimators_])

    def _joint(self, X) -> np.ndarray:
        scores = self.class_log_likelihood(X) @ self.coef_.T
        return scores + self.class_log_prior_ + self.bias_

    @property
    def temperature_(self) -> float:
        """The calibration temperature (1.0 without calibration; with ``"matrix"``: the
        inverse of the mean diagonal weight)."""
        check_is_fitted(self, "coef_")
        return float(1.0 / np.mean(np.diag(self.coef_)))

    def decision_function(self, X) -> np.ndarray:
        """Class scores: calibrated log-likelihood plus log prior (and bias).

        Returns
        -------
        ndarray of shape (n_texts, n_classes), or (n_texts,) for two classes (the score of
        ``classes_[1]`` minus that of ``classes_[0]``, as scikit-learn expects)
        """
        joint = self._joint(X)
        return joint[:, 1] - joint[:, 0] if len(self.classes_) == 2 else joint

    def predict_log_proba(self, X) -> np.ndarray:
        """Log-probability of each class for each text, shape (n_texts, n_classes)."""
        joint = self._joint(X)
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each class for each text, shape (n_texts, n_classes)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each text, shape (n_texts,)."""
        joint = self._joint(X)
        return self.classes_[np.argmax(joint, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of ``predict(X)`` against ``y`` (higher is better).

        Raises a ``ValueError`` when ``y`` holds labels that are not in ``classes_`` (the
        classifier could never predict them).
        """
        check_is_fitted(self, "estimators_")
        _, labels = check_labelled(X, y)
        unseen = sorted({str(v) for v in labels if v not in set(self.classes_.tolist())})
        if unseen:
            raise ValueError(
                f"y holds label(s) {unseen[:5]} that were not seen in fit (classes_: "
                f"{self.classes_.tolist()[:10]}); the classifier can only predict its classes_"
            )
        return super().score(X, y, sample_weight=sample_weight)

    # -------------------------------------------------------------------- persistence
    def save(self, path) -> None:
        """Write the fitted classifier to one file (parameters, classes, vocabulary, every
        class model's weights); :func:`charzoo.load` reads it back."""
        from charzoo.classifier_file import save_classifier

        save_classifier(self, path)

    def _fitted_members(self) -> list[tuple[str, CharLM]]:
        """The fitted class models by name (``class0``, ``class1``, ...)."""
        return [(f"class{k}", model) for k, model in enumerate(self.estimators_)]

    def _set_fitted_members(self, members: list[tuple[str, CharLM]]) -> None:
        self.estimators_ = [model for _, model in members]


def _seeded(template: CharLM, seed: int) -> CharLM:
    model = clone(template)
    if model.get_params(deep=False).get("random_state", 0) is None:
        model.set_params(random_state=int(seed))
    return model


def _fit_class(model: CharLM, train: list[str], tokenizer: CharTokenizer, score: list | None):
    """Fit one class model on ``train``; return it, or its log-likelihoods of ``score``."""
    from charzoo.models._ensemble import fit_member

    model, _ = fit_member(type(model).__name__, model, train, None, tokenizer)
    return model if score is None else model.score_samples(score)


@hookimpl
def charzoo_register_models(register):
    register(CharLMClassifier, name="classifier", description="One zoo model per class")
