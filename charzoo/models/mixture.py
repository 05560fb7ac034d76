"""A mixture of zoo models: linear interpolation of their next-character distributions.

:class:`CharMixture` is a meta-estimator in scikit-learn's style (like ``VotingClassifier``):
its ``estimators`` are ``(name, estimator)`` pairs of any charzoo models, built-in or plugin.
``fit`` learns one shared tokenizer, fits a clone of every member with it (in parallel with
joblib if asked) and learns the mixture weights on held-out text by expectation-maximisation::

    P(c | context) = sum_m w_m P_m(c | context),   w_m >= 0,  sum_m w_m = 1

Scoring, ``score_samples`` and ``generate`` use the mixed distribution. The members' modules
live in one container module, so the mixture saves to one file like any model.
"""

from __future__ import annotations

import time
from numbers import Integral

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import Bunch

from charzoo.base import CharLM
from charzoo.data import Corpus, check_texts, encode_corpus, resolve_mode
from charzoo.fitted_attributes import count, non_negative_number_dict, number_dict
from charzoo.hookspecs import hookimpl
from charzoo.models._ensemble import MembersMixin, check_members, fit_member
from charzoo.models._mixing import CompactMixtureDecoder, MixtureDecoder, MixtureModule, em_weights
from charzoo.params import Fraction, Options
from charzoo.tokenizer import CharTokenizer
from charzoo.utils import seed_from

__all__ = ["CharMixture"]


def _default_estimators() -> list[tuple[str, CharLM]]:
    from charzoo.models.ngram import CharNGram

    return [("ngram5", CharNGram(order=5)), ("ngram3", CharNGram(order=3))]


class CharMixture(MembersMixin, CharLM):
    """Mixture of charzoo models: a weighted average of their next-character distributions.

    ``fit`` builds one tokenizer from ``texts`` and fits a clone of every member with it
    (``member.fit(train, validation_texts=held_out, tokenizer=shared)``), so all members share
    one vocabulary; it then learns the weights on the held-out texts by EM (linear
    interpolation, the classic way to combine n-gram and neural language models). Members
    whose errors differ (a count model and a Transformer) give a mixture better than the
    best of them.

    Parameters
    ----------
    estimators : list of (str, CharLM) tuples, optional
        The members, as in scikit-learn's ``VotingClassifier``: any charzoo models (built-in
        or plugin), unfitted. Their parameters are reachable as ``<name>__<param>`` (for
        ``set_params`` and ``GridSearchCV``). Default ``None``: a 5-gram and a 3-gram
        Kneser-Ney model (fast, count-only).
    weights : "fit", "uniform" or array-like of float, default="fit"
        ``"fit"``: maximum-likelihood weights learned by EM on the held-out texts;
        ``"uniform"``: equal weights; an array: fixed weights (normalised to sum to 1).
    validation_fraction : float in (0, 1), default=0.1
        With ``weights="fit"`` and no ``validation_texts``: the fraction of ``texts`` held out
        from the members' training to learn the weights (random texts in document mode, the
        end of each text in stream mode). Ignored when ``validation_texts`` is passed.
    prefit : bool, default=False
        Use the members as already fitted (they must share one vocabulary and mode); ``fit``
        only learns the weights, on ``texts`` (the held-out texts).
    n_jobs : int, optional
        Members fitted in parallel by joblib (``-1``: all cores). Default: one at a time.
    **kwargs
        Common parameters of :class:`charzoo.base.CharLM`. ``mode`` is given to members whose
        own ``mode`` is ``"auto"``; ``random_state`` seeds the held-out split and every member
        whose own ``random_state`` is ``None``.

    Attributes
    ----------
    estimators_ : list of CharLM
        The fitted members (clones, unless ``prefit``).
    named_estimators_ : Bunch
        The fitted members by name.
    weights_ : ndarray of shape (n_members,)
        The mixture weights.
    fit_seconds_ : dict of str to float
        Seconds each member took to fit, and ``"weights"``: seconds to learn the weights.
    n_em_iter_ : int
        EM iterations run (0 unless ``weights="fit"``).
    validation_nll_ : dict of str to float
        Held-out NLL (nats per character) of each member and of the mixture (``"mixture"``),
        when weights were learned.
    tokenizer_ : CharTokenizer
        The shared tokenizer.
    module_ : MixtureModule
        The members' modules and the weights.
    mode_ : {"document", "stream"}

    Examples
    --------
    >>> from charzoo import CharMLP, CharNGram
    >>> from charzoo.models.mixture import CharMixture
    >>> from charzoo.datasets import load_names
    >>> mix = CharMixture(
    ...     [("ngram", CharNGram(order=4)), ("mlp", CharMLP(max_steps=300))], random_state=0
    ... ).fit(load_names()[:3000])
    >>> mix.weights_.round(1).sum()
    np.float64(1.0)
    >>> mix.set_params(ngram__order=5).get_params()["ngram__order"]
    5
    """

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {}

    _parameter_constraints: dict = {
        "estimators": [list, None],
        "weights": [Options("fit", "uniform"), "array-like"],
        "validation_fraction": [Fraction(closed="neither")],
        "prefit": ["boolean"],
        "n_jobs": [Integral, None],
    }
    _training_params = ("validation_fraction", "prefit", "n_jobs")
    _fitted_attributes: dict = {
        "validation_nll_": number_dict,
        "n_em_iter_": count,
        "fit_seconds_": non_negative_number_dict,
    }

    def __init__(
        self,
        estimators: list[tuple[str, CharLM]] | None = None,
        *,
        weights: str | list[float] = "fit",
        validation_fraction: float = 0.1,
        prefit: bool = False,
        n_jobs: int | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.estimators = estimators
        self.weights = weights
        self.validation_fraction = validation_fraction
        self.prefit = prefit
        self.n_jobs = n_jobs

    # ---------------------------------------------------------------------- checks
    def _members(self) -> list[tuple[str, CharLM]]:
        """The validated ``(name, estimator)`` pairs (the default members when None)."""
        members = _default_estimators() if self.estimators is None else self.estimators
        return check_members(members, set(super().get_params(deep=False)), "CharMixture")

    def _fixed_weights(self, n_members: int) -> torch.Tensor | None:
        if isinstance(self.weights, str):
            return None if self.weights == "fit" else torch.full((n_members,), 1.0 / n_members)
        weights = np.asarray(self.weights, dtype=np.float64).reshape(-1)
        if len(weights) != n_members or not np.all(np.isfinite(weights)):
            raise ValueError(
                f"weights must hold one finite number per member ({n_members}), got "
                f"{self.weights!r}; or use weights='fit' or 'uniform'"
            )
        if np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(
                f"weights must be non-negative with a positive sum, got {self.weights!r}"
            )
        return torch.from_numpy(weights / weights.sum())

    def _check_member_mode(self, name: str, estimator: CharLM) -> CharLM:
        mode = estimator.get_params(deep=False).get("mode", "auto")
        if mode == "auto":
            return estimator.set_params(mode=self.mode_)
        if mode != self.mode_:
            raise ValueError(
                f"estimator {name!r} has mode={mode!r} but the mixture models {self.mode_} "
                f"texts; members must agree on the mode: leave their mode='auto' or set it "
                f"to {self.mode_!r}"
            )
        return estimator

    # ------------------------------------------------------------------------- fit
    def fit(self, texts, y=None, *, validation_texts=None, tokenizer=None) -> CharMixture:
        """Fit every member on ``texts`` with one shared tokenizer, then learn the weights.

        Parameters
        ----------
        texts : iterable of str or EncodedCorpus
            Training texts (with ``prefit=True``: the held-out texts the weights are learned
            on). An encoded corpus is one stream, decoded into memory for the members.
        y : None
            Ignored.
        validation_texts : iterable of str, optional
            Held-out texts for the weights (and the members' validation); without them,
            ``validation_fraction`` of ``texts`` is held out when ``weights="fit"``.
        tokenizer : CharTokenizer, optional
            A fitted tokenizer to share instead of learning one from ``texts``.

        Returns
        -------
        self
        """
        self._validate_params()
        members = self._members()
        texts, validation_texts = _decoded(texts), _decoded(validation_texts)
        texts = check_texts(texts, for_fit=True)
        if validation_texts is not None:
            validation_texts = check_texts(validation_texts, name="validation_texts")
        fixed = self._fixed_weights(len(members))
        seed = seed_from(self.random_state)
        if self.prefit:
            self._adopt_fitted(members)
            held = texts if validation_texts is None else validation_texts
        else:
            self.mode_ = resolve_mode(self.mode, len(texts))
            members = [(n, self._check_member_mode(n, clone(e))) for n, e in members]
            if tokenizer is None:
                tokenizer = CharTokenizer(handle_unknown=self.handle_unknown).fit(texts)
            train, held = texts, validation_texts
            if fixed is None and held is None:
                train, held = self._hold_out(texts, seed)
            self._fit_members(members, train, held, tokenizer, seed)
        start = time.perf_counter()
        self.n_em_iter_ = 0
        self.validation_nll_ = {}
        if fixed is None:
            fixed = self._learn_weights(held)
        self.fit_seconds_["weights"] = time.perf_counter() - start
        self.module_ = MixtureModule(
            {name: est.module_ for name, est in zip(self.named_estimators_, self.estimators_)},
            fixed,
        )
        return self

    def _hold_out(self, texts: list[str], seed: int) -> tuple[list[str], list[str]]:
        fraction = self.validation_fraction
        if self.mode_ == "stream":
            cuts = [len(t) - max(1, round(fraction * len(t))) for t in texts]
            train = [t[:c] for t, c in zip(texts, cuts)]
            held = [t[c:] for t, c in zip(texts, cuts)]
            if any(c < 1 for c in cuts):
                raise ValueError(
                    "a text is too short to hold out validation_fraction of it; pass "
                    "validation_texts or set weights='uniform'"
                )
            return train, held
        if len(texts) < 2:
            raise ValueError(
                "weights='fit' needs held-out texts: pass validation_texts, or at least 2 texts "
                "so that validation_fraction of them can be held out, or set weights='uniform'"
            )
        order = np.random.RandomState(seed % 2**32).permutation(len(texts))
        n_held = min(len(texts) - 1, max(1, round(fraction * len(texts))))
        held_idx = set(order[:n_held].tolist())
        train = [t for i, t in enumerate(texts) if i not in held_idx]
        held = [t for i, t in enumerate(texts) if i in held_idx]
        if not any(train):
            raise ValueError("every text left for training the members is empty")
        return train, held

    def _fit_members(
        self,
        members: list[tuple[str, CharLM]],
        train: list[str],
        held: list[str] | None,
        tokenizer: CharTokenizer,
        seed: int,
    ) -> None:
        from joblib import Parallel, delayed

        seeds = np.random.RandomState(seed % 2**32).randint(0, 2**31 - 1, size=len(members))
        for (_, est), member_seed in zip(members, seeds):
            if est.get_params(deep=False).get("random_state", 0) is None:
                est.set_params(random_state=int(member_seed))
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(fit_member)(name, est, train, held, tokenizer) for name, est in members
        )
        self.tokenizer_ = CharTokenizer(handle_unknown=self.handle_unknown)
        self.tokenizer_._set_chars(tokenizer.chars)
        self.estimators_ = [est for est, _ in results]
        self.named_estimators_ = Bunch(**{n: e for (n, _), e in zip(members, self.estimators_)})
        self.fit_seconds_ = {name: seconds for (name, _), (_, seconds) in zip(members, results)}
        self.max_text_length_ = max(e.max_text_length_ for e in self.estimators_)
        for name, est in zip(self.named_estimators_, self.estimators_):
            self._check_vocabulary(name, est)

    def _adopt_fitted(self, members: list[tuple[str, CharLM]]) -> None:
        for name, est in members:
            if not hasattr(est, "module_"):
                raise ValueError(f"prefit=True but estimator {name!r} is not fitted; fit it first")
        first = members[0][1]
        self.tokenizer_ = CharTokenizer(handle_unknown=self.handle_unknown)
        self.tokenizer_._set_chars(first.tokenizer_.chars)
        self.mode_ = first.mode_
        if self.mode not in ("auto", self.mode_):
            raise ValueError(f"mode={self.mode!r} but the prefit members model {self.mode_} texts")
        for name, est in members:
            if est.mode_ != self.mode_:
                raise ValueError(
                    f"estimator {name!r} models {est.mode_} texts but {members[0][0]!r} models "
                    f"{self.mode_} texts; members must agree on the mode"
                )
            self._check_vocabulary(name, est)
        self.estimators_ = [est for _, est in members]
        self.named_estimators_ = Bunch(**dict(members))
        self.fit_seconds_ = {name: 0.0 for name, _ in members}
        self.max_text_length_ = max(e.max_text_length_ for e in self.estimators_)

    def _check_vocabulary(self, name: str, est: CharLM) -> None:
        if est.tokenizer_.chars != self.tokenizer_.chars:
            raise ValueError(
                f"estimator {name!r} ({type(est).__name__}) has a different vocabulary "
                f"({est.tokenizer_.vocab_size} ids) than the mixture "
                f"({self.tokenizer_.vocab_size}); members must share one tokenizer: fit them "
                "with fit(texts, tokenizer=...) (prefit) or let CharMixture fit them"
            )

    def _member_log_probs(self, corpus: Corpus) -> torch.Tensor:
        """Log-probability of every target under every member, shape (n_members, n_targets)."""
        return torch.stack([-est._token_nll(corpus).double().cpu() for est in self.estimators_])

    def _learn_weights(self, held: list[str]) -> torch.Tensor:
        corpus = encode_corpus(self.tokenizer_, held, self.mode_, self.handle_unknown)
        if len(corpus.targets) == 0:
            raise ValueError("the held-out texts hold no characters to learn the weights on")
        log_probs = self._member_log_probs(corpus)
        weights, self.n_em_iter_ = em_weights(log_probs)
        mixed = torch.logsumexp(log_probs + weights.log()[:, None], dim=0)
        self.validation_nll_ = {
            name: float(-row.mean()) for name, row in zip(self.named_estimators_, log_probs)
        }
        self.validation_nll_["mixture"] = float(-mixed.mean())
        return weights

    # ------------------------------------------------------------ CharLM interface
    @property
    def weights_(self) -> np.ndarray:
        """The mixture weights, in the order of ``estimators_``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "module_")
        return self.module_.weights.cpu().numpy().copy()

    def _token_nll(self, corpus: Corpus) -> torch.Tensor:
        log_w = self.module_.weights.double().cpu().log()
        return -torch.logsumexp(self._member_log_probs(corpus) + log_w[:, None], dim=0)

    def _decoder(self) -> MixtureDecoder:
        decoders = [est._decoder() for est in self.estimators_]
        compact = all(hasattr(d, "select") for d in decoders)
        cls = CompactMixtureDecoder if compact else MixtureDecoder
        return cls(decoders, self.module_.weights.cpu())

    def _build_module(self) -> MixtureModule:
        """An empty container of new member modules (used by :func:`charzoo.load`)."""
        members = {}
        for name, est in zip(self.named_estimators_, self.estimators_):
            est.module_ = est._build_module()
            members[name] = est.module_
        return MixtureModule(members, torch.zeros(len(members)))

    # ----------------------------------------------------------- persistence hooks
    #: The parameter holding the members; :mod:`charzoo.persistence` stores the fitted
    #: members (class, parameters, fitted attributes) instead of this parameter.
    _members_param = "estimators"

    def _fitted_members(self) -> list[tuple[str, CharLM]]:
        """The fitted members by name (their tensors are in ``module_``'s state dict)."""
        return list(zip(self.named_estimators_, self.estimators_))

    def _set_fitted_members(self, members: list[tuple[str, CharLM]]) -> None:
        """Restore the fitted members of a loaded mixture (before :meth:`_build_module`)."""
        self.estimators_ = [est for _, est in members]
        self.named_estimators_ = Bunch(**dict(members))


def _decoded(texts: object) -> object:
    """An :class:`~charzoo.encoded.EncodedCorpus` as ``[its text]`` (one stream; the members
    are fitted on the text in memory), anything else unchanged."""
    from charzoo.encoded import EncodedCorpus

    return [texts.decode()] if isinstance(texts, EncodedCorpus) else texts


@hookimpl
def charzoo_register_models(register):
    register(CharMixture, name="mixture", description="Mixture of zoo models (EM weights)")
