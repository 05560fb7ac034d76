"""The training loop shared by every neural model, as a :class:`Trainer` with overridable steps.

A model family supplies a :class:`TrainingTask` (how to draw a batch and compute its loss, how
to compute the validation loss). The :class:`Trainer` owns what every fit needs: the AdamW
optimiser and learning-rate schedule (:meth:`~Trainer.make_optimizer`,
:meth:`~Trainer.lr_factor`), the optimiser step (:meth:`~Trainer.train_step`), periodic
evaluation that keeps the best weights (:meth:`~Trainer.evaluate`), divergence checks
(:meth:`~Trainer.check_divergence`), Ctrl-C handling and restoring the weights to keep
(:meth:`~Trainer.restore_best`). Optional behaviour (the progress bar, early stopping, the
estimator's ``callbacks``) lives in :mod:`charzoo.callbacks`. Subclass the trainer to change a
step (the learning-rate finder does), add a :class:`~charzoo.callbacks.Callback` to watch it.

The loop never reads a loss back to the host after a step: losses are summed on the device
and read at evaluations and :attr:`Trainer.checks_per_eval` times between them (to catch a
non-finite loss early); on a GPU each read waits for the queued work.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

import torch

from charzoo.callbacks import Callback
from charzoo.distributed import average_gradients, average_loss
from charzoo.precision import compiled, grad_scaler, precision_context
from charzoo.utils import module_device

__all__ = [
    "HISTORY_KEYS",
    "LR_SCHEDULES",
    "Trainer",
    "TrainingDivergedWarning",
    "TrainingTask",
    "TrainResult",
    "TrainSettings",
    "default_eval_interval",
    "lr_factor",
]

LR_SCHEDULES = ("constant", "step", "cosine")
HISTORY_KEYS = ("step", "train_loss", "val_loss", "lr")


class TrainingDivergedWarning(RuntimeWarning):
    """The training loss became NaN or infinite; the last sane weights were restored."""


# An evaluation is *sane* when its losses are finite and its mean training loss is at most
# this many times the first step's loss (about log(vocab_size) when fresh) plus one nat:
# finite but huge losses (learning_rate=1e6) mean weights that can score inf.
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
    """Hyperparameters of the :class:`Trainer`. Every field is required: the defaults live
    in one place, the estimator's parameters (:class:`charzoo.neural.NeuralMixin`), and
    :meth:`~charzoo.neural.NeuralMixin._train_settings` is the one mapping from those."""

    learning_rate: float
    max_steps: int
    lr_schedule: str
    warmup_steps: int
    weight_decay: float
    grad_clip: float | None
    grad_accumulation_steps: int  # batches averaged into one optimiser step
    eval_interval: int | None
    precision: str  # see charzoo.precision
    compile: bool


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


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``module``'s state dict (on its device)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def is_finite_state(state: dict[str, torch.Tensor]) -> bool:
    """True when every floating-point tensor of ``state`` is finite (one host read)."""
    flags = [torch.isfinite(v).all() for v in state.values() if v.is_floating_point()]
    return not flags or bool(torch.stack(flags).all())


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` reports back to the estimator."""

    history: dict[str, list]
    n_steps: int
    stop_reason: str
    best_step: int | None


class Trainer:
    """Train ``module`` on ``task`` for ``settings.max_steps`` optimiser steps.

    The weights left in ``module`` are the best on validation when there is validation data,
    otherwise the last ones. After divergence (non-finite weights or losses, or a mean training
    loss more than twice the first step's loss plus one nat) training stops with a
    :class:`TrainingDivergedWarning` and the module gets the best (with validation) or last
    weights of an earlier (sane) evaluation, or its initial weights when there was none; the
    warning says which. Ctrl-C after at least one step stops training the same way (with a
    ``RuntimeWarning``); Ctrl-C before the first optimiser step of a fresh fit re-raises
    ``KeyboardInterrupt`` (there is nothing worth keeping).

    Parameters
    ----------
    module : torch.nn.Module
        The model, on its device.
    task : TrainingTask
        Batches, loss and validation loss.
    settings : TrainSettings
    callbacks : iterable of Callback, optional
        Told about the run (see :mod:`charzoo.callbacks`), in order.
    start_step : int, default=0
        Steps already done (warm start); labels the history and the messages.
    history : dict of lists, optional
        History to append to (warm start): ``step``, ``train_loss``, ``val_loss``, ``lr``.

    Attributes
    ----------
    step, completed : int
        Optimiser steps of this run begun (the one running included) and finished.
    stop_reason : str or None
        ``"max_steps"``, ``"early_stopping"``, ``"diverged"``, ``"interrupted"`` or any
        string a callback passed to :meth:`request_stop`.
    """

    checks_per_eval: int = 4  #: cheap divergence checks (one host read each) per eval interval

    def __init__(
        self,
        module: torch.nn.Module,
        task: TrainingTask,
        settings: TrainSettings,
        *,
        callbacks: Iterable[Callback] = (),
        start_step: int = 0,
        history: dict[str, list] | None = None,
    ) -> None:
        self.module, self.task, self.settings = module, task, settings
        self.callbacks = list(callbacks)
        self.start_step = start_step
        self.history = history if history is not None else {}
        for key in HISTORY_KEYS:
            self.history.setdefault(key, [])
        self.interval = settings.eval_interval or default_eval_interval(settings.max_steps)
        self.check_every = max(1, -(-self.interval // self.checks_per_eval))
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.step = self.completed = 0
        self.stop_reason: str | None = None
        self.best_loss, self.best_step = math.inf, None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.last_good: dict[str, torch.Tensor] | None = None
        self.last_good_step: int | None = None
        self.reference: float | None = None  # loss of the first step: the scale of "sane"
        self._first_loss: torch.Tensor | None = None
        self._loss_sum: torch.Tensor | None = None  # on the device, read at evaluations
        self._loss_count = 0

    # ----------------------------------------------------------------- overridable steps
    def make_optimizer(self) -> torch.optim.Optimizer:
        """AdamW with weight decay on matrices only (biases and norms are not decayed)."""
        params = [p for p in self.module.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        groups = [
            {"params": decay, "weight_decay": self.settings.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        try:  # the fused kernel (torch >= 2.4 on CPU) is several times faster than the loop
            return torch.optim.AdamW(groups, lr=self.settings.learning_rate, fused=True)
        except (RuntimeError, TypeError, ValueError):
            return torch.optim.AdamW(groups, lr=self.settings.learning_rate)

    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier at ``step`` (0-based). A continued fit (warm start,
        ``--resume``) follows the schedule of one fit of ``start_step + max_steps`` steps."""
        whole = replace(self.settings, max_steps=self.start_step + self.settings.max_steps)
        return lr_factor(self.start_step + step, whole)

    def compute_loss(self) -> torch.Tensor:
        """The mean loss of one training batch, with grad, in the training precision and
        through the compiled module when ``compile`` is set."""
        with precision_context(self.settings.precision, self.device):
            return self.forward.run(self.task.train_loss)

    def backward(self, loss: torch.Tensor) -> None:
        """Gradients of ``loss`` (scaled for fp16; averaged over ranks when data-parallel)."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        average_gradients(self.module)

    def optimizer_step(self) -> None:
        """Clip the gradient norm (``grad_clip``) and step the optimiser and the schedule."""
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.settings.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.settings.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()

    def train_step(self) -> torch.Tensor:
        """One optimiser step over ``grad_accumulation_steps`` batches (their gradients
        averaged); returns the mean batch loss (detached, on the device, unread)."""
        self.optimizer.zero_grad(set_to_none=True)
        batches = self.settings.grad_accumulation_steps
        total: torch.Tensor | None = None
        for _ in range(batches):
            loss = self.compute_loss()
            self.backward(loss / batches if batches > 1 else loss)
            total = loss.detach() if total is None else total + loss.detach()
        self.optimizer_step()
        return total / batches if batches > 1 else total

    def is_eval_step(self, step: int) -> bool:
        """Evaluate every ``interval`` steps and at the last step."""
        return step % self.interval == 0 or step == self.settings.max_steps

    def validation_loss(self) -> float | None:
        """The task's validation loss (the module is in eval mode; fp32 NLL of logits
        computed in the training precision)."""
        with precision_context(self.settings.precision, self.device):
            return self.task.eval_loss(self.module)

    def evaluate(self) -> dict | None:
        """Validation and mean training loss since the last evaluation; keeps the best weights.

        Returns the evaluation record (``step``, ``train_loss``, ``val_loss``, ``lr``,
        ``improved``), also appended to the history, or None when the weights or losses are
        not sane (divergence).
        """
        self.module.eval()
        val_loss = self.validation_loss()
        train_loss = average_loss(self._loss_sum) / self._loss_count
        self._loss_sum, self._loss_count = None, 0
        if self.reference is None:
            self.reference = average_loss(self._first_loss)
        watched = val_loss if val_loss is not None else train_loss
        state = snapshot(self.module)
        sane = train_loss <= _SANE_FACTOR * self.reference + 1.0  # False for NaN
        if not (math.isfinite(watched) and sane and is_finite_state(state)):
            return None
        step = self.start_step + self.step
        self.last_good, self.last_good_step = state, step
        improved = watched < self.best_loss
        if improved:
            self.best_loss, self.best_step, self.best_state = watched, step, state
        record = {
            "step": step,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "lr": self.optimizer.param_groups[0]["lr"],
        }
        for key, value in record.items():
            self.history[key].append(value)
        return {**record, "improved": improved}

    def check_divergence(self) -> bool:
        """Between evaluations: True when a loss since the last evaluation was not finite
        (one host read of the running sum)."""
        return self._loss_sum is not None and not math.isfinite(average_loss(self._loss_sum))

    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop after the current step (callbacks call this)."""
        self.stop_reason = reason

    def should_stop(self) -> bool:
        """True when training should stop after the current step (a stop was requested)."""
        return self.stop_reason is not None

    def restore_best(self) -> None:
        """Load the weights to keep: after divergence the best (with validation) or last sane
        weights, or the initial ones, with a warning saying which; otherwise the best weights
        when there is validation data (the last weights are kept without)."""
        has_validation = bool(self.history["val_loss"]) and self.history["val_loss"][-1] is not None
        if self.stop_reason == "diverged":
            if has_validation and self.best_state is not None:
                restored, which = self.best_state, f"the best weights (step {self.best_step})"
            elif self.last_good_step is not None:
                restored = self.last_good
                which = f"the last sane weights (step {self.last_good_step})"
            else:
                restored, which = self.last_good, "the initial weights (no evaluation was sane)"
            warnings.warn(
                f"training diverged at step {self.start_step + self.step} (loss or weights "
                "non-finite, or the loss far above the untrained loss); "
                f"restored {which}. Try a smaller learning_rate or set grad_clip.",
                TrainingDivergedWarning,
                stacklevel=4,
            )
            self.module.load_state_dict(restored)
        elif has_validation and self.best_state is not None:
            self.module.load_state_dict(self.best_state)
        elif self.stop_reason == "interrupted" and not is_finite_state(self.module.state_dict()):
            self.module.load_state_dict(self.last_good)

    # ----------------------------------------------------------------------------- the loop
    def setup(self) -> None:
        """Create the optimiser, the schedule, the fp16 gradient scaler and the compiled
        forward; remember the initial weights."""
        self.device = module_device(self.module)
        self.scaler = grad_scaler(self.settings.precision, self.device)
        self.forward = compiled(self.module, self.settings.compile)
        self.optimizer = self.make_optimizer()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.lr_factor)
        self.last_good = snapshot(self.module)

    def _record_loss(self, loss: torch.Tensor) -> None:
        loss = loss.float()
        if self._first_loss is None:
            self._first_loss = loss
        self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
        self._loss_count += 1

    def _run_steps(self) -> None:
        self.module.train()
        for step in range(1, self.settings.max_steps + 1):
            self.step = step
            loss = self.train_step()
            self.completed = step
            self._record_loss(loss)
            for callback in self.callbacks:
                callback.on_step_end(self, step, loss)
            if self.is_eval_step(step):
                record = self.evaluate()
                if record is None:
                    self.stop_reason = "diverged"
                    return
                for callback in self.callbacks:
                    callback.on_evaluation(self, record)
                self.module.train()
            elif step % self.check_every == 0 and self.check_divergence():
                self.stop_reason = "diverged"
                return
            if self.should_stop():
                return

    def fit(self) -> TrainResult:
        """Run the loop; returns the history, the step count, why it stopped and the best
        step."""
        self.setup()
        for callback in self.callbacks:
            callback.on_train_begin(self)
        try:
            self._run_steps()
        except KeyboardInterrupt:
            if self.completed == 0 and self.start_step == 0:
                raise KeyboardInterrupt(
                    "fit interrupted before the first training step; the model is not fitted"
                ) from None
            self.stop_reason = "interrupted"
            warnings.warn(
                f"training interrupted at step {self.start_step + self.step}; keeping the best "
                "weights so far",
                RuntimeWarning,
                stacklevel=3,
            )
        finally:
            self.module.eval()
            for callback in self.callbacks:
                callback.on_train_end(self)
        self.stop_reason = self.stop_reason or "max_steps"
        self.restore_best()
        return TrainResult(
            self.history, self.start_step + self.step, self.stop_reason, self.best_step
        )
