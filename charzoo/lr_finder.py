"""The learning-rate finder of the makemore lectures, for any neural charzoo model.

Lecture 2 of *makemore* finds a good learning rate by training once while the rate grows
exponentially, ``lrs = 10 ** torch.linspace(-3, 0, 1000)``, one rate per step, and plotting the
loss against the rate: the loss falls slowly at tiny rates, fastest in a useful range, then
explodes. :func:`lr_find` runs that sweep through the model's own module, training task and
:class:`~charzoo.training.Trainer` (a subclass whose schedule is the sweep) on a clone of the
estimator, so the estimator passed in is left untouched.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import clone

from charzoo.callbacks import Callback
from charzoo.neural import NeuralMixin
from charzoo.precision import resolve_precision
from charzoo.rng import private_init, private_randomness
from charzoo.training import Trainer, TrainSettings
from charzoo.utils import seed_from

__all__ = ["ExponentialAverage", "LRFindResult", "lr_find", "smooth_losses"]


class LRFindResult(NamedTuple):
    """What :func:`lr_find` returns; unpacks as ``rates, losses, suggested_lr``.

    Attributes
    ----------
    rates : ndarray of shape (n_steps,)
        Learning rate of each step of the sweep (stops early when the loss explodes).
    losses : ndarray of shape (n_steps,)
        Training loss of each step's minibatch, measured before that step's update.
    suggested_lr : float
        A learning rate to train with: a third of the rate at which the smoothed loss is
        lowest (the minimum itself sits at the edge of instability). For :class:`CharMLP` on
        the names this gives about 3e-3, the rate its defaults were tuned to.
    """

    rates: np.ndarray
    losses: np.ndarray
    suggested_lr: float


class ExponentialAverage:
    """Bias-corrected exponential moving average, updated one value at a time.

    Parameters
    ----------
    beta : float in [0, 1), default=0.9
        Weight of the past.
    """

    def __init__(self, beta: float = 0.9) -> None:
        self.beta, self.average, self.count = beta, 0.0, 0

    def update(self, value: float) -> float:
        """Add ``value``; return the corrected average so far."""
        self.count += 1
        self.average = self.beta * self.average + (1 - self.beta) * value
        return self.average / (1 - self.beta**self.count)


def smooth_losses(losses, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average of a loss curve (``beta`` weights the past).

    Parameters
    ----------
    losses : array-like of shape (n,)
    beta : float in [0, 1), default=0.9

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> smooth_losses([1.0, 1.0, 1.0]).round(6).tolist()
    [1.0, 1.0, 1.0]
    """
    average = ExponentialAverage(beta)
    values = np.asarray(losses, dtype=np.float64)
    return np.array([average.update(v) for v in values], dtype=np.float64).reshape(values.shape)


class _Sweep(Trainer):
    """The trainer with the sweep's exponential schedule and no evaluation: the loss is
    expected to explode, so there is no divergence check and nothing is restored."""

    def __init__(self, module, task, settings, rates: np.ndarray, **kwargs) -> None:
        super().__init__(module, task, settings, **kwargs)
        self.rates = rates

    def lr_factor(self, step: int) -> float:
        return float(self.rates[min(step, len(self.rates) - 1)] / self.rates[0])

    def is_eval_step(self, step: int) -> bool:
        return False

    def check_divergence(self) -> bool:
        return False

    def restore_best(self) -> None:
        pass


class _Recorder(Callback):
    """Keeps each step's loss; stops at a non-finite loss or an explosion of the average."""

    def __init__(self, stop_factor: float | None) -> None:
        self.stop_factor, self.losses = stop_factor, []
        self.average, self.best = ExponentialAverage(), math.inf

    def on_step_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None:
        value = float(loss)  # the sweep needs every value to decide when to stop
        if not math.isfinite(value):
            trainer.request_stop("diverged")
            return
        self.losses.append(value)
        current = self.average.update(value)
        self.best = min(self.best, current)
        if self.stop_factor is not None and step > 1 and current > self.stop_factor * self.best:
            trainer.request_stop("exploded")


def lr_find(
    estimator,
    texts,
    *,
    min_lr: float = 1e-3,
    max_lr: float = 1.0,
    n_steps: int = 1000,
    stop_factor: float | None = 4.0,
    random_state: int | np.random.RandomState | None = None,
) -> LRFindResult:
    """Sweep the learning rate exponentially over one short training run.

    Step ``i`` of ``n_steps`` trains one minibatch at rate
    ``10 ** linspace(log10(min_lr), log10(max_lr), n_steps)[i]`` (the lecture's
    ``10 ** linspace(-3, 0)`` by default) with the estimator's AdamW settings, gradient
    clipping and batch size, starting from a freshly initialised module.

    Parameters
    ----------
    estimator : CharLM with gradient training
        A neural model (any subclass of :class:`charzoo.neural.NeuralMixin`); it is cloned,
        not modified. Count models such as :class:`~charzoo.CharBigram` have no learning rate.
    texts : iterable of str
        Training texts, as for ``fit``.
    min_lr, max_lr : float, default=1e-3, 1.0
        First and last rate of the sweep.
    n_steps : int, default=1000
        Steps of the sweep (one minibatch each).
    stop_factor : float or None, default=4.0
        Stop once the smoothed loss exceeds ``stop_factor`` times its minimum so far or the
        loss is not finite (the rest of the sweep would only show an explosion); None runs
        every step unless the loss stops being finite.
    random_state : int, numpy generator or None, optional
        Seed of initialisation and batches; defaults to the estimator's ``random_state``.

    Returns
    -------
    LRFindResult
        ``rates``, ``losses`` and ``suggested_lr``.

    Raises
    ------
    TypeError
        If ``estimator`` is not trained by gradient descent.

    References
    ----------
    A. Karpathy, "Building makemore Part 2: MLP" (2022), the learning-rate search.
    L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV (2017).

    Examples
    --------
    >>> from charzoo import CharMLP, lr_find
    >>> from charzoo.datasets import load_names
    >>> rates, losses, suggested = lr_find(CharMLP(random_state=0), load_names()[:1000],
    ...                                    n_steps=100)
    >>> float(rates[0]), 1e-3 <= suggested <= 1.0
    (0.001, True)
    """
    if not isinstance(estimator, NeuralMixin):
        raise TypeError(
            f"lr_find needs a model trained by gradient descent; {type(estimator).__name__} "
            "has no learning rate"
        )
    if not 0 < min_lr < max_lr:
        raise ValueError(f"need 0 < min_lr < max_lr, got min_lr={min_lr}, max_lr={max_lr}")
    if int(n_steps) < 2:
        raise ValueError(f"n_steps must be at least 2, got {n_steps}")
    if stop_factor is not None and stop_factor <= 1:
        raise ValueError(f"stop_factor must be > 1 or None, got {stop_factor}")
    seed = seed_from(estimator.random_state if random_state is None else random_state)
    model = clone(estimator).set_params(callbacks=None, verbose=False, random_state=seed)
    model._validate_params()
    train, _ = model._setup_fit(texts, None, None, warm=False)
    rates = np.logspace(math.log10(min_lr), math.log10(max_lr), int(n_steps))
    settings = TrainSettings(
        learning_rate=float(rates[0]),
        max_steps=len(rates),
        lr_schedule="constant",
        weight_decay=model.weight_decay,
        grad_clip=model.grad_clip,
        precision=resolve_precision(model.precision, model._resolve_device()),
        compile=model.compile,
    )
    recorder = _Recorder(stop_factor)
    with private_randomness(seed):
        with private_init():
            module = model.module_ = model._build_module().to(model._resolve_device())
        task = model._training_task(train, None, torch.Generator().manual_seed(seed))
        _Sweep(module, task, settings, rates, callbacks=[recorder]).fit()
    losses = recorder.losses
    if not losses:
        raise ValueError("the loss was not finite at the first step; check the estimator")
    losses_arr = np.asarray(losses)
    rates = rates[: len(losses_arr)]
    suggested = float(rates[int(np.argmin(smooth_losses(losses_arr)))] / 3)
    return LRFindResult(rates, losses_arr, max(suggested, float(min_lr)))
