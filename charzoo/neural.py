"""Training hyperparameters and the fit step shared by every neural model."""

from __future__ import annotations

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from charzoo.data import Corpus, split_corpus
from charzoo.training import LR_SCHEDULES, TrainingTask, TrainSettings, run_training

__all__ = ["NeuralMixin"]


class NeuralMixin:
    """Adds gradient training to a model family (mix in before the family class).

    The family provides ``_training_task(train, val, generator)``; the model provides
    ``_build_module()``.

    Parameters
    ----------
    learning_rate : float, default=1e-3
        Peak AdamW learning rate.
    batch_size : int, default=64
        Examples (windows or sequences) per step.
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
    n_iter_no_change : int or None, default=None
        Stop after this many evaluations without a better validation loss.
    eval_interval : int or None, default=None
        Steps between evaluations; default ``max_steps // 20`` capped at 500.
    warm_start : bool, default=False
        Continue training the fitted module on the next ``fit`` instead of starting anew.
    callbacks : list of callables or None, default=None
        Each is called as ``callback(estimator, record)`` after every evaluation, where
        ``record`` holds ``step``, ``train_loss``, ``val_loss``, ``lr`` and ``improved``.
    """

    _parameter_constraints: dict = {
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_steps": [Interval(Integral, 1, None, closed="left")],
        "lr_schedule": [StrOptions(set(LR_SCHEDULES))],
        "warmup_steps": [Interval(Integral, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "eval_interval": [Interval(Integral, 1, None, closed="left"), None],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        *,
        learning_rate: float = 1e-3,
        batch_size: int = 64,
        max_steps: int = 10000,
        lr_schedule: str = "cosine",
        warmup_steps: int = 0,
        weight_decay: float = 0.01,
        grad_clip: float | None = 1.0,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | None = None,
        eval_interval: int | None = None,
        warm_start: bool = False,
        callbacks: list | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.lr_schedule = lr_schedule
        self.warmup_steps = warmup_steps
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.eval_interval = eval_interval
        self.warm_start = warm_start
        self.callbacks = callbacks

    def _training_task(
        self, train: Corpus, val: Corpus | None, generator: torch.Generator
    ) -> TrainingTask:
        raise NotImplementedError

    def _fit_model(self, train: Corpus, val: Corpus | None, generator: torch.Generator) -> None:
        warm = self.warm_start and hasattr(self, "module_")
        if not warm:
            self.module_ = self._build_module().to(self._resolve_device())
            self.history_ = {}
            self.n_steps_ = 0
        if val is None and self.validation_fraction > 0:
            if train.mode == "stream" or train.n_texts > 1:
                train, val = split_corpus(train, self.validation_fraction, generator)
        settings = TrainSettings(
            learning_rate=self.learning_rate,
            max_steps=self.max_steps,
            lr_schedule=self.lr_schedule,
            warmup_steps=self.warmup_steps,
            weight_decay=self.weight_decay,
            grad_clip=self.grad_clip,
            eval_interval=self.eval_interval,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
        )
        callbacks = list(self.callbacks or [])
        result = run_training(
            self.module_,
            self._training_task(train, val, generator),
            settings,
            start_step=self.n_steps_,
            history=self.history_,
            on_eval=(lambda record: [cb(self, record) for cb in callbacks]) if callbacks else None,
        )
        self.history_ = result.history
        self.n_steps_ = result.n_steps
        self.stop_reason_ = result.stop_reason
        self.best_step_ = result.best_step
