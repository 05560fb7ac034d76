"""Estimator base class shared by every charzoo model.

:class:`CharLM` implements the scikit-learn contract once: parameter storage and validation,
``fit`` (input checks, tokenizer, data mode, seeding), ``score``/``score_samples``
(perplexity/log-likelihood), ``generate`` and ``most_likely`` (from
:class:`~charzoo.generation.GenerationMixin`) and ``save``.
A model family (window or sequence models) adds how a module sees the data; a model adds its
``nn.Module``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from charzoo.data import (
    Corpus,
    check_texts,
    encode_corpus,
)
from charzoo.fitted_attributes import data_mode, text_length
from charzoo.fitted_state import PUBLIC_METHODS, check_structure, public_method
from charzoo.generation import GenerationMixin
from charzoo.metrics import warn_if_passthrough_scorer
from charzoo.param_values import plain_params
from charzoo.params import Options, PositiveInt, publish_signature, validate_params
from charzoo.pickling import PortablePickleMixin
from charzoo.presets import PresetsMixin
from charzoo.proba import NextCharMixin
from charzoo.rng import private_randomness
from charzoo.sampler import Decoder
from charzoo.threads import model_step_work
from charzoo.utils import (
    check_device,
    module_device,
    resolve_device,
    seed_from,
    torch_threads,
    uses_threads,
)

__all__ = ["CharLM"]


class CharLM(NextCharMixin, PresetsMixin, PortablePickleMixin, GenerationMixin, BaseEstimator):
    """Base class of all character-level language models.

    Subclasses declare their own hyperparameters as keyword arguments of ``__init__`` and pass
    the rest to ``super().__init__(**kwargs)``; inherited defaults they change go in a
    ``_default_overrides`` dict instead of a re-declaration. The combined signature is
    published on the subclass (:func:`charzoo.params.publish_signature`) so that
    ``get_params``, ``clone``, ``repr`` and the documentation see every parameter with its
    effective default.

    Parameters
    ----------
    mode : {"auto", "document", "stream"}, default="auto"
        How texts are modelled. ``"document"``: each text is one item (a name) that starts from
        an empty context and ends with a predicted end marker. ``"stream"``: each text is a long
        corpus whose windows slide over the characters; no end marker. ``"auto"`` picks
        ``"stream"`` when ``fit`` gets exactly one text and ``"document"`` otherwise.
    handle_unknown : {"error", "ignore"}, default="error"
        Characters not seen in ``fit`` raise a ``ValueError`` naming them, or are dropped.
    device : str, default="auto"
        Torch device; ``"auto"`` uses CUDA when available, else the CPU. ``fit`` refuses a
        device this machine does not have (``ValueError`` naming the fix); a saved or pickled
        model whose device is missing on the loading machine is put on the CPU with one
        warning (``charzoo.load(path, device=...)`` chooses another).
    verbose : bool, int or "auto", default="auto"
        Show a progress bar with the running loss while training. ``"auto"`` shows it in
        interactive use (stderr is a terminal, or a Jupyter kernel) and stays quiet in
        scripts whose output goes to a file or pipe; ``True``/``False`` force it.
    n_threads : int, "auto" or None, default="auto"
        Torch CPU threads used by ``fit``, ``score``, ``score_samples`` and ``generate``
        (restored afterwards). ``"auto"``: one thread for a small model (a step's parameters
        times predictions below :data:`charzoo.threads.AUTO_MIN_WORK`), else the cores not
        held by other programs, at most torch's setting (see :mod:`charzoo.threads`).
        ``None`` keeps torch's setting (one thread per core), which on a machine busy with
        other work can train 10-20x slower than one thread.
    random_state : int, numpy random generator or None, default=None
        Seeds initialisation, batches, dropout and (unless ``generate`` gets its own)
        sampling. The global torch and numpy seeds are never used or changed.
    """

    #: Settings that make the model small and fast for the conformance checks, stated by the
    #: model's author next to its code (river's ``_unit_test_params``): its size parameters
    #: (``{"n_embd": 16, "n_hidden": 32}``), ``{}`` for a model that is small anyway.
    #: :func:`charzoo.testing.make_tiny` applies them (after a few training steps), and
    #: refuses a model that declares none. The hostile suite's size cases blow up these keys.
    _test_params: dict | None = None

    _parameter_constraints: dict = {
        "mode": [Options("auto", "document", "stream")],
        "handle_unknown": [Options("error", "ignore")],
        "device": [str],
        "verbose": ["verbose", Options("auto")],
        "n_threads": [PositiveInt, Options("auto"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        mode: str = "auto",
        handle_unknown: str = "error",
        device: str = "auto",
        verbose: bool | int | str = "auto",
        n_threads: int | str | None = "auto",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.mode = mode
        self.handle_unknown = handle_unknown
        self.device = device
        self.verbose = verbose
        self.n_threads = n_threads
        self.random_state = random_state

    # hyperparameters that may change after fit (see charzoo.fitted_state); the rest are
    # structural: changing one after fit makes score/generate/save ask for a refit
    _training_params = ("device", "verbose", "n_threads", "random_state", "handle_unknown")
    # fitted attributes a model file keeps (see charzoo.fitted_attributes)
    _fitted_attributes: dict = {"mode_": data_mode, "max_text_length_": text_length}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        publish_signature(cls)
        for name in PUBLIC_METHODS:  # plain hyperparameter values, structure checks
            if name in cls.__dict__:
                setattr(cls, name, public_method(cls.__dict__[name]))

    # ----------------------------------------------------------------- subclass interface
    def _fit_model(self, train: Corpus, val: Corpus | None, generator: torch.Generator) -> None:
        """Set ``module_`` (and training attributes) from the encoded training corpus."""
        raise NotImplementedError

    def _token_nll(self, corpus: Corpus) -> torch.Tensor:
        """Negative log-likelihood (nats) of every target of ``corpus``, shape (n_targets,)."""
        raise NotImplementedError

    def _decoder(self) -> Decoder:
        """A fresh incremental decoder over ``module_`` for generation."""
        raise NotImplementedError

    def _build_module(self) -> torch.nn.Module:
        """A new, untrained ``nn.Module`` for ``tokenizer_.vocab_size`` (used by fit and load)."""
        raise NotImplementedError

    # ---------------------------------------------------------------------- sklearn contract
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags

    @classmethod
    def _all_parameter_constraints(cls) -> dict:
        merged: dict = {}
        for klass in reversed(cls.__mro__):
            merged.update(klass.__dict__.get("_parameter_constraints", {}))
        return merged

    def _validate_params(self, *, device: bool = True) -> None:
        """Check every hyperparameter against ``_parameter_constraints`` (and ``_check_params``).

        One rule applies to every model, plugins included: a ``bool`` is refused where the
        constraints ask for a number (``True`` is an ``int`` to Python, but ``n_embd=True`` is
        a mistake), unless the constraints also accept a boolean. With ``device=True`` the
        ``device`` must exist on this machine.
        """
        constraints = self._all_parameter_constraints()
        params = plain_params(self.get_params(deep=False), type(self).__name__)
        validate_params(constraints, params, type(self).__name__)
        self._check_params()
        if device:
            check_device(self.device)

    def _check_params(self) -> None:
        """Cross-parameter checks beyond the declarative constraints (override to add)."""

    # --------------------------------------------------------------------------------- fit
    @uses_threads
    def fit(self, texts, y=None, *, validation_texts=None, tokenizer=None) -> CharLM:
        """Fit the model on a list of texts.

        Parameters
        ----------
        texts : iterable of str or EncodedCorpus
            Training texts: many short documents (names) or ``[corpus]`` for stream mode,
            or a memory-mapped :class:`~charzoo.encoded.EncodedCorpus` (one stream).
        y : None
            Ignored; present for scikit-learn compatibility.
        validation_texts : iterable of str or EncodedCorpus, optional
            Held-out texts for validation loss, best-weight selection and early stopping,
            used instead of splitting off ``validation_fraction`` of ``texts``.
        tokenizer : CharTokenizer, optional
            A fitted tokenizer to use instead of learning one from ``texts``; its vocabulary
            must hold every character of ``texts``. Models fitted with the same tokenizer
            share one vocabulary (ids and output size), as the members of
            :class:`~charzoo.models.mixture.CharMixture` must.

        Returns
        -------
        self
        """
        self._validate_params()
        warm = self._warm_start_applies()
        if not warm:
            self._forget_fit()
        try:
            train, val = self._setup_fit(texts, validation_texts, tokenizer, warm)
            seed = seed_from(self.random_state)
            with private_randomness(seed):
                self._fit_model(train, val, torch.Generator().manual_seed(seed))
        except BaseException:
            # an error or a Ctrl-C before training finished a step leaves no half-fitted model
            # (a new tokenizer beside an old module would score silently wrong)
            if not warm:
                self._forget_fit()
            raise
        return self

    def _warm_start_applies(self) -> bool:
        """The one place deciding warm start (fit forgets the old fit otherwise); a warm
        start after a structural ``set_params`` raises ``StructureChangedError``."""
        warm = bool(getattr(self, "warm_start", False)) and hasattr(self, "module_")
        if warm:
            check_structure(self, "continue training (warm_start=True)")
        return warm

    def _setup_fit(self, texts, validation_texts, tokenizer, warm: bool) -> tuple:
        """Everything ``fit`` does before training: check the inputs
        (:func:`charzoo.fit_inputs.fit_inputs`), set the vocabulary, data mode and longest
        text, encode the validation texts; returns the training and validation corpora."""
        from charzoo.fit_inputs import fit_inputs

        inputs = fit_inputs(self, texts, tokenizer, warm)
        self.tokenizer_, self.mode_ = inputs.tokenizer, inputs.mode
        self.max_text_length_ = inputs.max_text_length
        val = None
        if validation_texts is not None:
            val = self._encode_checked(validation_texts, "validation_texts")
        return inputs.train, val

    def _forget_fit(self) -> None:
        """Remove every fitted attribute (names ending in ``_``), leaving an unfitted model."""
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)

    @property
    def device_(self) -> torch.device:
        """The device the fitted module lives on."""
        check_is_fitted(self, "module_")
        return module_device(self.module_)

    def _resolve_device(self) -> torch.device:
        return resolve_device(self.device)

    # ----------------------------------------------------------------------------- scoring
    def _encode(self, texts: object, name: str = "texts") -> Corpus:
        check_is_fitted(self, "module_")
        return self._encode_checked(texts, name)

    def _encode_checked(self, texts: object, name: str) -> Corpus:
        from charzoo.encoded import EncodedCorpus

        if isinstance(texts, EncodedCorpus):
            if self.mode_ == "document":
                raise ValueError(
                    f"{name}: this {type(self).__name__} models documents (mode_='document') "
                    f"and cannot score {texts!r}, one stream without document boundaries; "
                    "pass a list of texts, or fit the model in stream mode"
                )
            return texts.to_corpus(self.tokenizer_, self.handle_unknown)
        texts = check_texts(texts, name=name)
        return encode_corpus(
            self.tokenizer_, texts, self.mode_, self.handle_unknown, verbose=self.verbose
        )

    @uses_threads
    def score_samples(self, texts) -> np.ndarray:
        """Log-likelihood (natural log) of each text under the model.

        In document mode a text of length L (in NFC form) counts L + 1 predictions: its
        characters and the end marker.

        Parameters
        ----------
        texts : iterable of str or EncodedCorpus

        Returns
        -------
        ndarray of shape (n_texts,)
        """
        corpus = self._encode(texts)
        nll = self._token_nll(corpus).double().cpu()
        per_text = torch.zeros(corpus.n_texts, dtype=torch.float64)
        per_text.index_add_(0, corpus.text_index, nll)
        return (-per_text).numpy()

    def score(self, texts, y=None) -> float:
        """Perplexity of ``texts``: exp(total NLL / number of predicted characters).

        **Lower is better.** scikit-learn maximises ``score`` when a search or
        cross-validation is given no ``scoring``, which would pick the *worst* model: always
        pass ``scoring=charzoo.metrics.perplexity_scorer`` (it returns minus the perplexity).
        charzoo warns when it detects the trap.

        Parameters
        ----------
        texts : iterable of str or EncodedCorpus
        y : None
            Ignored.

        Returns
        -------
        float
            Perplexity (>= 1).
        """
        warn_if_passthrough_scorer(type(self).__name__)  # not decorated: it reads the caller
        corpus = self._encode(texts)
        n_targets = len(corpus.targets)
        if n_targets == 0:
            raise ValueError("texts hold no characters to score (stream mode, all empty)")
        with torch_threads(self.n_threads, lambda: model_step_work(self)):
            total = float(self._token_nll(corpus).double().sum())
        return float(np.exp(total / n_targets))

    # ------------------------------------------------------------------------- persistence
    def save(self, path) -> None:
        """Write the fitted model to one file (hyperparameters, tokenizer, weights).

        The file holds only tensors and JSON, so :func:`charzoo.load` never unpickles code.
        The file is written atomically: an interrupted save leaves any old file intact.
        """
        from charzoo.persistence import save_model

        save_model(self, path)

    @property
    def n_parameters_(self) -> int:
        """Number of trainable parameters of the fitted module."""
        check_is_fitted(self, "module_")
        return sum(p.numel() for p in self.module_.parameters() if p.requires_grad)


for _name in PUBLIC_METHODS:  # CharLM's own methods and those of its mixins
    if hasattr(CharLM, _name):
        setattr(CharLM, _name, public_method(getattr(CharLM, _name)))
