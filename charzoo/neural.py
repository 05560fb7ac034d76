"""Training hyperparameters and the fit step shared by every neural model.

Before a fresh fit allocates anything, :meth:`NeuralMixin._check_size` estimates the memory
the fit needs and refuses one that would not fit (see :mod:`charzoo.fit_memory`).
"""

from __future__ import annotations

import math
import time
from numbers import Integral

import torch

from charzoo.callbacks import Callback, fit_callbacks
from charzoo.data import Corpus, split_corpus
from charzoo.fit_memory import (
    MAX_MODULES,
    ModelTooLargeError,
    activation_bytes,
    estimate_fit_memory,
    format_bytes,
)
from charzoo.fitted_attributes import count, history, optional_count, short_text
from charzoo.params import (
    Fraction,
    NonNegativeFloat,
    NonNegativeInt,
    Options,
    PositiveFloat,
    PositiveInt,
)
from charzoo.precision import PRECISIONS, PrecisionDecoder, precision_context, resolve_precision
from charzoo.rng import private_init
from charzoo.training import (
    LR_SCHEDULES,
    MIN_EVAL_INTERVAL,
    Trainer,
    TrainingTask,
    TrainSettings,
)
from charzoo.utils import available_memory

__all__ = ["MAX_MODULES", "ModelTooLargeError", "NeuralMixin", "estimate_fit_memory"]


# small data (an epoch shorter than MIN_EVAL_INTERVAL steps): evaluate at least every this
# many steps, and stop after this many evaluations without improvement (n_iter_no_change)
SMALL_DATA_EVAL_INTERVAL = 10
SMALL_DATA_PATIENCE = 20


class NeuralMixin:
    """Adds gradient training to a model family (mix in before the family class).

    The family provides ``_training_task(train, val, generator)``; the model provides
    ``_build_module()``.

    Parameters
    ----------
    learning_rate : float, default=1e-3
        Peak AdamW learning rate.
    batch_size : int, default=64
        Examples (windows or sequences) per batch.
    grad_accumulation_steps : int, default=1
        Batches whose gradients are averaged into each optimiser step: a step sees
        ``batch_size * grad_accumulation_steps`` examples while only ``batch_size`` of them
        are in memory at once (the same update as one batch that large, up to floating-point
        rounding, for a model without dropout or batch statistics).
    max_steps : int, default=10000
        Optimiser steps.
    lr_schedule : {"cosine", "step", "constant"}, default="cosine"
        ``"cosine"`` decays to a tenth of the peak after ``warmup_steps`` of linear warm-up
        (nanoGPT); ``"step"`` divides the rate by 10 for the last quarter (makemore lectures).
    warmup_steps : int, default=0
        Linear warm-up steps.
    weight_decay : float, default=0.01
        AdamW weight decay for matrices (biases and norms are not decayed).
    grad_clip : float or None, default=1.0
        Clip the global gradient norm to this value; None disables clipping.
    validation_fraction : float, default=0.1
        Fraction of the training texts (document mode) or of the end of the stream held out
        to measure validation loss; the weights with the best validation loss are kept.
        0 disables validation (the last weights are kept). Ignored when ``fit`` gets
        ``validation_texts``.
    n_iter_no_change : int, "auto" or None, default="auto"
        Stop after this many evaluations without a better validation loss; None never stops
        early. ``"auto"``: no early stopping, except on *small data* (see ``eval_interval``)
        with validation, where training stops after 20 evaluations without improvement.
    eval_interval : int or None, default=None
        Steps between evaluations (validation loss, best weights, callbacks, early stopping).
        Default: ``max_steps // 20``, but never fewer than 50 steps apart nor more than 500,
        and at most ``max_steps`` (the last step is always evaluated): an evaluation costs
        a pass over up to 32k validation characters, so evaluating every step of a short fit
        would dominate its time. On *small data*, where one epoch (a pass over the training
        texts or windows) takes fewer than 50 steps, the default is one epoch but at least 10
        steps: a few hundred names are memorised within a few hundred steps, and the best
        validation loss comes long before a 250-step interval would look (measured in
        ``docs/user_guide.md``, "Small data").
    ema_decay : float or None, default=None
        Keep an exponential moving average of the weights with this decay (e.g. 0.999) and
        evaluate, keep and return the averaged weights (see
        :class:`charzoo.callbacks.WeightAverage`); None trains without one. The decay at
        update ``t`` is ``min(ema_decay, (1 + t) / (10 + t))``, so a decay above 0.999 only
        differs from 0.999 after about 9,000 steps.
    warm_start : bool, default=False
        Continue training the fitted module on the next ``fit`` instead of starting anew:
        ``max_steps`` more steps, the step count and the learning-rate schedule continuing as
        in one fit of ``n_steps_ + max_steps`` steps (no restart at the peak rate).
    callbacks : list of callables or Callback or None, default=None
        A function is called as ``callback(estimator, record)`` after every evaluation, where
        ``record`` holds ``step``, ``train_loss``, ``val_loss``, ``lr`` and ``improved``; a
        :class:`charzoo.callbacks.Callback` is told about every step and evaluation and may
        stop training (:meth:`charzoo.training.Trainer.request_stop`).
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Numeric precision of training, scoring and sampling: ``"auto"`` is bf16 autocast
        with TF32 matmuls on a CUDA device supporting bf16 and fp32 elsewhere; ``"fp16"``
        adds a gradient scaler. Reported NLLs are computed in fp32 (see
        :mod:`charzoo.precision`).
    compile : bool, default=False
        ``torch.compile`` the training forward; falls back to the plain module with one
        warning when compilation fails.

    Notes
    -----
    Safety rules applied by every neural model:

    - *Size*: a fresh fit first estimates its memory on the ``"meta"`` device (see
      :func:`estimate_fit_memory`) and refuses, with the figure, a model that would not fit
      in the memory available on its device or has more than :data:`MAX_MODULES` submodules.
    - *Divergence*: a non-finite loss, non-finite weights or a mean training loss more than
      twice the first step's loss plus one nat (checked at evaluations) stops training with
      a ``TrainingDivergedWarning``; the best (or last) weights of an earlier evaluation, or
      the initial weights, are restored and the warning says which.
    - *Ctrl-C*: after at least one optimiser step, training stops, keeps the best weights and
      warns; before the first step, ``fit`` re-raises ``KeyboardInterrupt`` and the estimator
      is left unfitted (``score`` raises ``NotFittedError``).
    - *Small data*: see ``validation_fraction``: the held-out part never leaves the training
      part empty.
    """

    _parameter_constraints: dict = {
        "learning_rate": [PositiveFloat],
        "batch_size": [PositiveInt],
        "grad_accumulation_steps": [PositiveInt],
        "max_steps": [PositiveInt],
        "lr_schedule": [Options(*LR_SCHEDULES)],
        "warmup_steps": [NonNegativeInt],
        "weight_decay": [NonNegativeFloat],
        "grad_clip": [PositiveFloat, None],
        "validation_fraction": [Fraction(closed="left")],
        "n_iter_no_change": [PositiveInt, Options("auto"), None],
        "eval_interval": [PositiveInt, None],
        "ema_decay": [Fraction(closed="left"), None],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
        "precision": [Options(*PRECISIONS)],
        "compile": ["boolean"],
    }

    def __init__(
        self,
        *,
        learning_rate: float = 1e-3,
        batch_size: int = 64,
        grad_accumulation_steps: int = 1,
        max_steps: int = 10000,
        lr_schedule: str = "cosine",
        warmup_steps: int = 0,
        weight_decay: float = 0.01,
        grad_clip: float | None = 1.0,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | str | None = "auto",
        eval_interval: int | None = None,
        ema_decay: float | None = None,
        warm_start: bool = False,
        callbacks: list | None = None,
        precision: str = "auto",
        compile: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.grad_accumulation_steps = grad_accumulation_steps
        self.max_steps = max_steps
        self.lr_schedule = lr_schedule
        self.warmup_steps = warmup_steps
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.eval_interval = eval_interval
        self.ema_decay = ema_decay
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.precision = precision
        self.compile = compile

    _training_params = (*_parameter_constraints, "dropout")
    _fitted_attributes: dict = {
        "history_": history,
        "n_steps_": count,
        "stop_reason_": short_text,
        "best_step_": optional_count,
    }

    def _training_task(
        self, train: Corpus, val: Corpus | None, generator: torch.Generator
    ) -> TrainingTask:
        raise NotImplementedError

    def _validate_params(self, **kwargs: object) -> None:
        super()._validate_params(**kwargs)
        for i, callback in enumerate(self.callbacks or []):
            if not (callable(callback) or isinstance(callback, Callback)):
                raise TypeError(
                    f"callbacks[{i}] is {callback!r} ({type(callback).__name__}), which is not "
                    "callable; pass functions called as callback(estimator, record) or "
                    "charzoo.callbacks.Callback instances"
                )

    def _token_nll(self, corpus: Corpus) -> torch.Tensor:
        with precision_context(self.precision, self.device_):
            return super()._token_nll(corpus)

    def _decoder(self) -> object:
        decoder = super()._decoder()
        if resolve_precision(self.precision, self.device_) == "fp32":
            return decoder
        return PrecisionDecoder(decoder, self.precision, self.device_)

    def _probe_batch(self, train: Corpus) -> torch.Tensor | None:
        """A meta tensor shaped like one training batch of ids (for the size estimate), or
        None when the family cannot tell."""
        return None

    def _probe_forward(self, module: torch.nn.Module, batch: torch.Tensor) -> object:
        return module(batch)

    def _check_size(self, train: Corpus, module: torch.nn.Module | None = None) -> bool:
        """Refuse, before allocating, a fit that needs more memory than the device has.

        Without ``module``: estimate on the meta device; returns False when the activations
        could not be measured there (the module calls ``.item()``, ...). With the real
        ``module``: measure the activations of a two-row batch and scale them to
        ``batch_size`` rows (the fallback for such modules).
        """
        device = self._resolve_device()
        available = available_memory(device)
        budget = available if available is not None else math.inf
        batch = self._probe_batch(train)
        ids = 0 if batch is None else 4 * batch.numel() * 8  # index, input, target tensors
        if module is None:
            forward = None if batch is None else (lambda m: self._probe_forward(m, batch))
            n_params, param_bytes, activations = estimate_fit_memory(
                self._build_module, forward, budget
            )
        else:
            n_params = sum(p.numel() for p in module.parameters())
            param_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
            rows = min(2, batch.shape[0])
            small = torch.zeros((rows, *batch.shape[1:]), dtype=torch.long, device=device)
            try:
                activations = activation_bytes(module, lambda m: self._probe_forward(m, small))
                activations = activations * batch.shape[0] // rows
            except Exception:  # noqa: BLE001 - no figure: the ids alone are checked
                activations = 0
        name = type(self).__name__
        if activations is not None and activations < 0:
            raise ModelTooLargeError(
                f"{name} with these hyperparameters builds more than {MAX_MODULES:,} "
                "submodules or parameter tensors (charzoo.neural.MAX_MODULES), which no "
                "character model needs; reduce "
                "the number of layers (n_layers)"
            )
        need = 4 * param_bytes + (activations or 0) + ids
        if need > budget:
            training = {"max_steps", "warmup_steps", "eval_interval", "n_iter_no_change"}
            sizes = {
                k: v
                for k, v in self.get_params(deep=False).items()
                if isinstance(v, Integral)
                and not isinstance(v, bool)
                and v > 1
                and k not in training
                and k != "random_state"
            }
            listed = ", ".join(f"{k}={v}" for k, v in sorted(sizes.items()))
            raise ModelTooLargeError(
                f"{name} would need about {format_bytes(need)} of memory to train "
                f"(at least {n_params:,} parameters: {format_bytes(4 * param_bytes)} for "
                "weights, gradients and optimiser state; "
                f"{format_bytes((activations or 0) + ids)} for one training batch), but "
                f"{device} has {format_bytes(budget)} available. Reduce the size parameters "
                f"({listed})."
            )
        return activations is not None or batch is None

    def _steps_per_epoch(self, train: Corpus) -> float:
        """Batches of one pass over ``train`` (one window per target, by default)."""
        return len(train.targets) / self.batch_size

    def _evaluation_schedule(
        self, train: Corpus, val: Corpus | None
    ) -> tuple[int | None, int | None]:
        """``eval_interval`` and early-stopping patience of this fit, the defaults resolved
        (see the ``eval_interval`` and ``n_iter_no_change`` parameters)."""
        steps_per_epoch = self._steps_per_epoch(train) / self.grad_accumulation_steps
        small = steps_per_epoch < MIN_EVAL_INTERVAL
        interval = self.eval_interval
        if interval is None and small:
            epoch = math.ceil(steps_per_epoch)
            interval = min(self.max_steps, max(SMALL_DATA_EVAL_INTERVAL, epoch))
        patience = self.n_iter_no_change
        if patience == "auto":
            patience = SMALL_DATA_PATIENCE if small and val is not None else None
        return interval, patience

    def _train_settings(self, eval_interval: int | None = None) -> TrainSettings:
        """The trainer settings of a fit: the one place where the estimator's training
        parameters become :class:`~charzoo.training.TrainSettings` (a new training option is
        a parameter here, a field there and its use in the trainer). ``eval_interval``
        overrides the parameter (the resolved small-data default)."""
        return TrainSettings(
            learning_rate=float(self.learning_rate),
            max_steps=int(self.max_steps),
            lr_schedule=self.lr_schedule,
            warmup_steps=int(self.warmup_steps),
            weight_decay=float(self.weight_decay),
            grad_clip=None if self.grad_clip is None else float(self.grad_clip),
            grad_accumulation_steps=int(self.grad_accumulation_steps),
            eval_interval=eval_interval or self.eval_interval,
            precision=resolve_precision(self.precision, self._resolve_device()),
            compile=bool(self.compile),
        )

    def _make_trainer(
        self,
        module: torch.nn.Module,
        task: TrainingTask,
        eval_interval: int | None = None,
        **kwargs,
    ) -> Trainer:
        """The :class:`~charzoo.training.Trainer` of a fit over :meth:`_train_settings`. The
        trainer class is :class:`~charzoo.training.Trainer` unless a private
        ``_trainer_factory`` is set on the instance (:func:`charzoo.lr_find` sets its sweep
        trainer on its own clone, so a sweep is a fit through this same path)."""
        factory = getattr(self, "_trainer_factory", None) or Trainer
        return factory(module, task, self._train_settings(eval_interval), **kwargs)

    def _fit_model(self, train: Corpus, val: Corpus | None, generator: torch.Generator) -> None:
        # ``fit`` decides warm start: it removes every fitted attribute before a fresh fit, so
        # a fitted module here is one to continue training
        if not hasattr(self, "module_"):
            measured = self._check_size(train)
            with private_init():  # initialisation draws from the fit's own generator
                module = self._build_module().to(self._resolve_device())
            if not measured:
                self._check_size(train, module)
            self.module_ = module
            self.history_ = {}
            self.n_steps_ = 0
        if self.n_threads == "auto":  # sized now that the module exists (fit restores it)
            from charzoo.threads import auto_threads, model_step_work

            torch.set_num_threads(auto_threads(model_step_work(self)))
        if val is None and self.validation_fraction > 0:
            if train.mode == "stream" or train.n_texts > 1:
                train, val = split_corpus(train, self.validation_fraction, generator)
        interval, patience = self._evaluation_schedule(train, val)
        trainer = self._make_trainer(
            self.module_,
            self._training_task(train, val, generator),
            eval_interval=interval,
            callbacks=fit_callbacks(self, patience),
            start_step=self.n_steps_,
            history=self.history_,
        )
        start = time.perf_counter()
        result = trainer.fit()
        # seconds of training, summed over warm-started fits (charzoo.compare shows them)
        self.fit_seconds_ = getattr(self, "fit_seconds_", 0.0) + time.perf_counter() - start
        self.history_ = result.history
        self.n_steps_ = result.n_steps
        self.stop_reason_ = result.stop_reason
        self.best_step_ = result.best_step
