"""The training loop shared by every neural model.

A model family supplies a :class:`TrainingTask` (how to draw a batch and compute its loss, how
to compute the validation loss); :func:`train` owns everything else: the AdamW optimiser, the
learning-rate schedule, gradient clipping, periodic evaluation, keeping the best weights,
early stopping, divergence detection, Ctrl-C handling, the progress bar and callbacks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from tqdm.auto import tqdm

from charzoo.distributed import average_gradients, average_loss, is_main_process
from charzoo.utils import show_progress

__all__ = [
    "LR_SCHEDULES",
    "TrainingDivergedWarning",
    "TrainingTask",
    "TrainSettings",
    "run_training",
]

LR_SCHEDULES = ("constant", "step", "cosine")


class TrainingDivergedWarning(RuntimeWarning):
    """The training loss became NaN or infinite; the last sane weights were restored."""


# An evaluation is *sane* when its losses are finite and its mean training loss is at most
# this many times the loss of the first training step (about log(vocab_size) for a fresh
# model) plus one nat. Weights whose loss is finite but far above the untrained loss
# (learning_rate=1e6 reaches 1e6-scale weights with finite but huge losses) are not worth
# restoring: they can score inf.
_SANE_FACTOR = 2.0
MIN_EVAL_INTERVAL = 50


def default_eval_interval(max_steps: int) -> int:
    """Steps between evaluations when ``eval_interval`` is None.

    ``max_steps // 20`` (about twenty evaluations per fit), but at least
    :data:`MIN_EVAL_INTERVAL` (50) steps and at most 500, and never more than ``max_steps``
    (the last step is always evaluated).
    """
    return min(max_steps, max(MIN_EVAL_INTERVAL, min(500, max_steps // 20)))


class TrainingTask(Protocol):
    """What a model family tells the training loop."""

    def train_loss(self, module: torch.nn.Module) -> torch.Tensor:
        """Draw one training batch and return its mean loss (a scalar with grad)."""

    def eval_loss(self, module: torch.nn.Module) -> float | None:
        """Mean validation NLL per token, or ``None`` when there is no validation data."""


@dataclass
class TrainSettings:
    """Hyperparameters of :func:`train` (the estimator's training parameters)."""

    learning_rate: float = 1e-3
    max_steps: int = 1000
    lr_schedule: str = "cosine"
    warmup_steps: int = 0
    weight_decay: float = 0.01
    grad_clip: float | None = 1.0
    eval_interval: int | None = None
    n_iter_no_change: int | None = None
    verbose: bool | int = False


def lr_factor(step: int, settings: TrainSettings) -> float:
    """Learning-rate multiplier at ``step`` (0-based) for the configured schedule."""
    if step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    if settings.lr_schedule == "step":  # the makemore lectures: divide by 10 for the last quarter
        return 1.0 if step < 0.75 * settings.max_steps else 0.1
    if settings.lr_schedule == "cosine":  # nanoGPT: decay to a tenth of the peak
        span = max(1, settings.max_steps - settings.warmup_steps)
        progress = min(1.0, (step - settings.warmup_steps) / span)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))
    return 1.0


def _make_optimizer(module: torch.nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    decay = [p for p in module.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in module.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    try:  # the fused kernel (torch >= 2.4 on CPU) is several times faster than the loop
        return torch.optim.AdamW(groups, lr=settings.learning_rate, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=settings.learning_rate)


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _is_finite(state: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point())


@dataclass
class TrainResult:
    """What :func:`train` reports back to the estimator."""

    history: dict[str, list]
    n_steps: int
    stop_reason: str
    best_step: int | None


def run_training(
    module: torch.nn.Module,
    task: TrainingTask,
    settings: TrainSettings,
    *,
    start_step: int = 0,
    history: dict[str, list] | None = None,
    on_eval: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train ``module`` on ``task`` for ``settings.max_steps`` optimiser steps.

    The weights left in ``module`` are the best on validation when there is validation data,
    otherwise the last ones. After divergence (non-finite weights or losses, or a mean training
    loss more than twice the first step's loss plus one nat) training stops
    with a :class:`TrainingDivergedWarning` and the module gets the best (with validation) or
    last weights of an earlier (sane) evaluation, or its initial weights when there was none;
    the warning says which.
    Ctrl-C after at least one step stops training the same way (with a ``RuntimeWarning``);
    Ctrl-C before the first optimiser step of a fresh fit re-raises ``KeyboardInterrupt``
    (there is nothing worth keeping, and the estimator leaves itself unfitted).

    Parameters
    ----------
    module : torch.nn.Module
        The model, on its device.
    task : TrainingTask
        Batches, loss and validation loss.
    settings : TrainSettings
    start_step : int
        Steps already done (``warm_start``); only used to label the history.
    history : dict of lists, optional
        History to append to (``warm_start``).
    on_eval : callable, optional
        Called with the evaluation record after each evaluation.

    Returns
    -------
    TrainResult
    """
    history = history if history is not None else {}
    for key in ("step", "train_loss", "val_loss", "lr"):
        history.setdefault(key, [])
    optimizer = _make_optimizer(module, settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, settings))
    interval = settings.eval_interval or default_eval_interval(settings.max_steps)
    best_loss, best_step, best_state = math.inf, None, None
    last_good, last_good_step = _snapshot(module), None  # the initial weights until an eval
    reference: float | None = None  # loss of the first step: the scale of "sane"
    completed = 0
    evals_without_improvement = 0
    stop_reason = "max_steps"
    running, running_count, step = 0.0, 0, 0
    progress = tqdm(
        total=settings.max_steps,
        disable=not (show_progress(settings.verbose) and is_main_process()),
        unit="step",
        leave=False,
    )
    module.train()
    try:
        for step in range(1, settings.max_steps + 1):
            loss = task.train_loss(module)
            loss_value = average_loss(loss.item())
            if not math.isfinite(loss_value):
                stop_reason = "diverged"
                break
            if reference is None:
                reference = loss_value
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            average_gradients(module)
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(module.parameters(), settings.grad_clip)
            optimizer.step()
            scheduler.step()
            completed += 1
            running += loss_value
            running_count += 1
            progress.update(1)
            if step % interval and step != settings.max_steps:
                continue
            module.eval()
            val_loss = task.eval_loss(module)
            train_loss = running / running_count
            running, running_count = 0.0, 0
            watched = val_loss if val_loss is not None else train_loss
            state = _snapshot(module)
            sane = reference is None or train_loss <= _SANE_FACTOR * reference + 1.0
            if not (math.isfinite(watched) and sane and _is_finite(state)):
                stop_reason = "diverged"
                break
            last_good, last_good_step = state, start_step + step
            improved = watched < best_loss
            if improved:
                best_loss, best_step, best_state = watched, start_step + step, state
                evals_without_improvement = 0
            else:
                evals_without_improvement += 1
            record = {
                "step": start_step + step,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": optimizer.param_groups[0]["lr"],
            }
            for key, value in record.items():
                history[key].append(value)
            progress.set_postfix(
                {k: f"{v:.4f}" for k, v in record.items() if k.endswith("loss") and v is not None}
            )
            if on_eval is not None:
                on_eval({**record, "improved": improved})
            module.train()
            if settings.n_iter_no_change and evals_without_improvement >= settings.n_iter_no_change:
                stop_reason = "early_stopping"
                break
    except KeyboardInterrupt:
        if completed == 0 and start_step == 0:
            raise KeyboardInterrupt(
                "fit interrupted before the first training step; the model is not fitted"
            ) from None
        stop_reason = "interrupted"
        warnings.warn(
            f"training interrupted at step {start_step + step}; keeping the best weights so far",
            RuntimeWarning,
            stacklevel=3,
        )
    finally:
        progress.close()
        module.eval()
    has_validation = bool(history["val_loss"]) and history["val_loss"][-1] is not None
    if stop_reason == "diverged":
        if has_validation and best_state is not None:
            restored, which = best_state, f"the best weights (step {best_step})"
        elif last_good_step is not None:
            restored, which = last_good, f"the last sane weights (step {last_good_step})"
        else:
            restored, which = last_good, "the initial weights (no evaluation was sane)"
        warnings.warn(
            f"training diverged at step {start_step + step} (loss or weights non-finite, or "
            "the loss far above the untrained loss); "
            f"restored {which}. Try a smaller learning_rate or set grad_clip.",
            TrainingDivergedWarning,
            stacklevel=3,
        )
        module.load_state_dict(restored)
    elif has_validation and best_state is not None:
        module.load_state_dict(best_state)
    elif stop_reason == "interrupted" and not _is_finite(module.state_dict()):
        module.load_state_dict(last_good)
    return TrainResult(history, start_step + step, stop_reason, best_step)
