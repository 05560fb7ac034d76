"""Optional behaviour of the training loop, as callbacks (the shape skorch gives its callbacks).

A :class:`Callback` is told when training begins and ends, after every optimiser step and
after every evaluation; it may ask the :class:`~charzoo.training.Trainer` to stop with
:meth:`~charzoo.training.Trainer.request_stop`. The trainer itself keeps only what every fit
needs (the optimiser step, evaluation, best weights, divergence checks, Ctrl-C); the progress
bar, early stopping, the moving average of the weights (``ema_decay``) and the estimator's
``callbacks`` parameter are callbacks.

A callback that needs the loss of every step should keep the tensor it is given and read it
later (``float(loss)`` forces the device to finish its queued work, a host round-trip per step
on a GPU).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from charzoo.distributed import is_main_process
from charzoo.utils import show_progress

if TYPE_CHECKING:  # pragma: no cover
    from charzoo.training import Trainer

__all__ = [
    "Callback",
    "EarlyStopping",
    "EstimatorCallback",
    "ProgressBar",
    "WeightAverage",
    "fit_callbacks",
]


class Callback:
    """Base class of training callbacks; every hook does nothing by default."""

    def on_train_begin(self, trainer: Trainer) -> None:
        """Called once before the first step."""

    def on_step_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None:
        """Called after optimiser step ``step`` (1-based within this fit) with its loss, a
        detached scalar tensor on the training device."""

    def on_evaluation(self, trainer: Trainer, record: dict) -> None:
        """Called after each evaluation with its record: ``step``, ``train_loss``,
        ``val_loss``, ``lr`` and ``improved``."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Called once when training stops for any reason (also after Ctrl-C or divergence)."""


class ProgressBar(Callback):
    """A tqdm bar of optimiser steps showing the losses of the last evaluation.

    Where stderr is not a terminal (a log file, a pipe, CI) and ``verbose=True`` forces
    progress, a carriage-return bar would make one endless line: the progress is printed as
    one line per evaluation instead (step, percentage, losses, steps per second).

    Parameters
    ----------
    verbose : bool, int or "auto"
        As the estimators' ``verbose``; the bar is shown on the main process only.
    """

    def __init__(self, verbose: bool | int | str = "auto") -> None:
        self.verbose = verbose
        self.bar: tqdm | None = None
        self.lines = False

    def on_train_begin(self, trainer: Trainer) -> None:
        shown = show_progress(self.verbose) and is_main_process()
        self.lines = shown and not show_progress("auto")  # forced, but not interactive
        self.started = time.monotonic()
        self.bar = tqdm(
            total=trainer.settings.max_steps,
            disable=not shown or self.lines,
            unit="step",
            leave=False,
        )

    def on_step_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None:
        self.bar.update(1)

    def on_evaluation(self, trainer: Trainer, record: dict) -> None:
        losses = {k: f"{v:.4f}" for k, v in record.items() if k.endswith("loss") and v is not None}
        if not self.lines:
            self.bar.set_postfix(losses)
            return
        done, total = trainer.step, trainer.settings.max_steps
        rate = done / max(time.monotonic() - self.started, 1e-9)
        shown = " ".join(f"{k} {v}" for k, v in losses.items())
        print(
            f"step {record['step']} ({100 * done / total:.0f}% of {total}): {shown}, "
            f"{rate:.0f} steps/s",
            file=sys.stderr,
            flush=True,
        )

    def on_train_end(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()


class EarlyStopping(Callback):
    """Stop after ``patience`` evaluations in a row without a better watched loss.

    Parameters
    ----------
    patience : int >= 1
        Evaluations without improvement tolerated (the estimators' ``n_iter_no_change``).

    Raises
    ------
    TypeError, ValueError
        For a ``patience`` that is not an int >= 1 (a bool, a float, a str, 0 or less).
    """

    def __init__(self, patience: int) -> None:
        if isinstance(patience, (bool, np.bool_)) or not isinstance(patience, Integral):
            raise TypeError(
                f"EarlyStopping(patience) must be an int >= 1, got {patience!r} "
                f"({type(patience).__name__}); e.g. EarlyStopping(patience=5)"
            )
        if patience < 1:
            raise ValueError(
                f"EarlyStopping(patience) must be an int >= 1, got {patience}; patience is the "
                "number of evaluations without improvement tolerated (e.g. 5)"
            )
        self.patience = int(patience)
        self.misses = 0

    def on_train_begin(self, trainer: Trainer) -> None:
        self.misses = 0

    def on_evaluation(self, trainer: Trainer, record: dict) -> None:
        self.misses = 0 if record["improved"] else self.misses + 1
        if self.misses >= self.patience:
            trainer.request_stop("early_stopping")


class EstimatorCallback(Callback):
    """Calls ``function(estimator, record)`` after each evaluation (the estimators'
    ``callbacks`` parameter accepts such plain functions).

    Parameters
    ----------
    function : callable
        Called as ``function(estimator, record)``.
    estimator : object
        Passed as the first argument.
    """

    def __init__(self, function: Callable[[object, dict], object], estimator: object) -> None:
        self.function, self.estimator = function, estimator

    def on_evaluation(self, trainer: Trainer, record: dict) -> None:
        self.function(self.estimator, record)


class WeightAverage(Callback):
    """Evaluate and keep an exponential moving average (EMA) of the weights.

    After optimiser step ``t`` of the fit, each floating-point parameter's average moves
    towards it: ``average += (1 - d) * (weights - average)`` with
    ``d = min(decay, (1 + t) / (10 + t))``, the warm-up of TensorFlow's
    ``ExponentialMovingAverage`` (early averages are not held back by the initial weights).
    Evaluations see the averaged weights (so the validation loss, the best weights and the
    divergence checks are theirs) while training goes on from the raw weights; the fit ends
    with the averaged weights, or the best averaged weights when there is validation data.
    Buffers (BatchNorm's running statistics) are not averaged.

    Parameters
    ----------
    decay : float
        The estimators' ``ema_decay``, in [0, 1): about ``1 / (1 - decay)`` recent steps
        carry the average (0.999: the last thousand or so).
    """

    def __init__(self, decay: float) -> None:
        self.decay = decay

    def on_train_begin(self, trainer: Trainer) -> None:
        self.params = [p for p in trainer.module.parameters() if p.is_floating_point()]
        self.average = [p.detach().clone() for p in self.params]
        self.raw: list[torch.Tensor] | None = None  # the training weights while swapped out
        self.updates = 0

    @torch.no_grad()
    def on_step_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None:
        self.updates += 1
        weight = 1.0 - min(self.decay, (1 + self.updates) / (10 + self.updates))
        for average, param in zip(self.average, self.params):
            average.lerp_(param, weight)
        if trainer.is_eval_step(step):
            self._swap_in()

    def on_evaluation(self, trainer: Trainer, record: dict) -> None:
        self._swap_out()

    def on_train_end(self, trainer: Trainer) -> None:
        if self.raw is None:  # (still swapped in after divergence or Ctrl-C in an evaluation)
            self._swap_in()
        self.raw = None

    @torch.no_grad()
    def _swap_in(self) -> None:
        self.raw = [p.detach().clone() for p in self.params]
        for param, average in zip(self.params, self.average):
            param.copy_(average)

    @torch.no_grad()
    def _swap_out(self) -> None:
        if self.raw is not None:
            for param, raw in zip(self.params, self.raw):
                param.copy_(raw)
            self.raw = None


def fit_callbacks(estimator: object, patience: int | None) -> list[Callback]:
    """The callbacks of a neural model's fit: a progress bar (``verbose``), early stopping
    after ``patience`` evaluations without improvement (the resolved ``n_iter_no_change``),
    the ``callbacks`` parameter in order (plain functions wrapped in
    :class:`EstimatorCallback`), then the weight average (``ema_decay``), last so that every
    other callback's evaluation hook still sees the averaged weights that were evaluated."""
    callbacks: list[Callback] = [ProgressBar(estimator.verbose)]
    if patience:
        callbacks.append(EarlyStopping(patience))
    for callback in estimator.callbacks or []:
        if not isinstance(callback, Callback):
            callback = EstimatorCallback(callback, estimator)
        callbacks.append(callback)
    if getattr(estimator, "ema_decay", None) is not None:
        callbacks.append(WeightAverage(estimator.ema_decay))
    return callbacks
