"""Training hyperparameters and the fit step shared by every neural model.

Before a fresh fit allocates anything, :meth:`NeuralMixin._check_size` builds the module on
PyTorch's ``"meta"`` device (shapes, no data) and runs one training batch through it there, to
estimate the memory the fit needs: 4 x the parameter bytes (weights, gradients and AdamW's two
moments) plus the bytes of every tensor one training batch's forward pass creates (an upper
bound of the activations kept for the backward pass) and of the batch's id tensors. A module
that cannot run on the meta device is measured on a real two-row batch instead, scaled to
``batch_size`` rows. A fit whose estimate exceeds the memory available on its device, or
whose module has more than :data:`MAX_MODULES` submodules or parameter tensors, is refused with
a ``ValueError`` (:class:`ModelTooLargeError`) giving the figure. Every neural model, plugins
included, gets this check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral

import torch

from charzoo.callbacks import Callback, fit_callbacks
from charzoo.data import Corpus, split_corpus
from charzoo.params import (
    Fraction,
    NonNegativeFloat,
    NonNegativeInt,
    Options,
    PositiveFloat,
    PositiveInt,
)
from charzoo.precision import PRECISIONS, PrecisionDecoder, precision_context, resolve_precision
from charzoo.training import LR_SCHEDULES, Trainer, TrainingTask, TrainSettings
from charzoo.utils import available_memory

__all__ = ["MAX_MODULES", "ModelTooLargeError", "NeuralMixin", "estimate_fit_memory"]

MAX_MODULES = 10_000  # submodules (or parameter tensors) a model may have: ~800 Transformer blocks


class ModelTooLargeError(ValueError):
    """A model's hyperparameters ask for more memory (or modules) than charzoo allows."""


class _Abort(Exception):
    pass


def _format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover


def estimate_fit_memory(
    build: Callable[[], torch.nn.Module],
    forward: Callable[[torch.nn.Module], object] | None,
    budget: float,
    max_modules: int | None = None,
) -> tuple[int, int, int]:
    """Parameter count, parameter bytes and activation bytes of a fit, measured on "meta".

    Registration hooks count every parameter, buffer and submodule as the module is built;
    the build stops as soon as 4 x the parameter bytes exceed ``budget`` (the activation
    figure is then 0) or the module count exceeds ``max_modules`` (default
    :data:`MAX_MODULES`; the activation figure is then -1), so a request for terabytes or a
    million layers is refused without building it.

    Returns
    -------
    n_params, param_bytes, activation_bytes : int
        ``activation_bytes`` is None when the module cannot run on the meta device.
    """
    from torch.nn.modules import module as module_hooks

    max_modules = MAX_MODULES if max_modules is None else max_modules
    counts = {"params": 0, "bytes": 0, "modules": 0, "tensors": 0}

    def on_parameter(module, name, param):
        if param is not None:
            counts["tensors"] += 1
            if counts["tensors"] > max_modules:  # fused layers (nn.RNN) are one module
                raise _Abort("modules")
            counts["params"] += param.numel()
            counts["bytes"] += param.numel() * param.element_size()
            if 4 * counts["bytes"] > budget:
                raise _Abort("bytes")
        return None

    def on_buffer(module, name, buffer):
        if buffer is not None:
            counts["bytes"] += buffer.numel() * buffer.element_size()
        return None

    def on_module(module, name, submodule):
        counts["modules"] += 1
        if counts["modules"] > max_modules:
            raise _Abort("modules")
        return None

    handles = [
        module_hooks.register_module_parameter_registration_hook(on_parameter),
        module_hooks.register_module_buffer_registration_hook(on_buffer),
        module_hooks.register_module_module_registration_hook(on_module),
    ]
    try:
        with torch.device("meta"):
            module = build()
    except _Abort as exc:
        return counts["params"], counts["bytes"], -1 if str(exc) == "modules" else 0
    finally:
        for handle in handles:
            handle.remove()
    activations = 0
    if forward is not None:
        try:
            activations = _activation_bytes(module, forward)
        except Exception:  # noqa: BLE001 - cannot run on meta (e.g. calls .item()): unknown
            activations = None
    return counts["params"], counts["bytes"], activations


def _activation_bytes(module: torch.nn.Module, forward: Callable) -> int:
    """Bytes of every non-view tensor created by ``forward(module)`` on the meta device."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not getattr(func, "is_view", False):
                for t in tree_flatten(out)[0]:
                    if isinstance(t, torch.Tensor):
                        Count.total += t.numel() * t.element_size()
            return out

    with torch.no_grad(), Count():
        forward(module)
    return Count.total


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
        Steps between evaluations (validation loss, best weights, callbacks, early stopping).
        Default: ``max_steps // 20``, but never fewer than 50 steps apart nor more than 500,
        and at most ``max_steps`` (the last step is always evaluated): an evaluation costs
        a pass over up to 32k validation characters, so evaluating every step of a short fit
        would dominate its time.
    warm_start : bool, default=False
        Continue training the fitted module on the next ``fit`` instead of starting anew.
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
        "max_steps": [PositiveInt],
        "lr_schedule": [Options(*LR_SCHEDULES)],
        "warmup_steps": [NonNegativeInt],
        "weight_decay": [NonNegativeFloat],
        "grad_clip": [PositiveFloat, None],
        "validation_fraction": [Fraction(closed="left")],
        "n_iter_no_change": [PositiveInt, None],
        "eval_interval": [PositiveInt, None],
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
        precision: str = "auto",
        compile: bool = False,
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
        self.precision = precision
        self.compile = compile

    # a model pickled before these parameters existed unpickles with their defaults
    precision = "auto"
    compile = False

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
                activations = _activation_bytes(module, lambda m: self._probe_forward(m, small))
                activations = activations * batch.shape[0] // rows
            except Exception:  # noqa: BLE001 - no figure: the ids alone are checked
                activations = 0
        name = type(self).__name__
        if activations is not None and activations < 0:
            raise ModelTooLargeError(
                f"{name} with these hyperparameters builds more than {MAX_MODULES:,} "
                "submodules or parameter tensors (charzoo.neural.MAX_MODULES), which no "
                "character model needs; reduce "
                "the number of layers (n_layers/n_layer)"
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
                f"{name} would need about {_format_bytes(need)} of memory to train "
                f"(at least {n_params:,} parameters: {_format_bytes(4 * param_bytes)} for "
                "weights, gradients and optimiser state; "
                f"{_format_bytes((activations or 0) + ids)} for one training batch), but "
                f"{device} has {_format_bytes(budget)} available. Reduce the size parameters "
                f"({listed})."
            )
        return activations is not None or batch is None

    def _make_trainer(self, module: torch.nn.Module, task: TrainingTask, **kwargs) -> Trainer:
        """The :class:`~charzoo.training.Trainer` of a fit (override to use a subclass)."""
        settings = TrainSettings(
            learning_rate=self.learning_rate,
            max_steps=self.max_steps,
            lr_schedule=self.lr_schedule,
            warmup_steps=self.warmup_steps,
            weight_decay=self.weight_decay,
            grad_clip=self.grad_clip,
            eval_interval=self.eval_interval,
            precision=resolve_precision(self.precision, self._resolve_device()),
            compile=self.compile,
        )
        return Trainer(module, task, settings, **kwargs)

    def _fit_model(self, train: Corpus, val: Corpus | None, generator: torch.Generator) -> None:
        # ``fit`` decides warm start: it removes every fitted attribute before a fresh fit, so
        # a fitted module here is one to continue training
        if not hasattr(self, "module_"):
            measured = self._check_size(train)
            module = self._build_module().to(self._resolve_device())
            if not measured:
                self._check_size(train, module)
            self.module_ = module
            self.history_ = {}
            self.n_steps_ = 0
        if val is None and self.validation_fraction > 0:
            if train.mode == "stream" or train.n_texts > 1:
                train, val = split_corpus(train, self.validation_fraction, generator)
        trainer = self._make_trainer(
            self.module_,
            self._training_task(train, val, generator),
            callbacks=fit_callbacks(self),
            start_step=self.n_steps_,
            history=self.history_,
        )
        result = trainer.fit()
        self.history_ = result.history
        self.n_steps_ = result.n_steps
        self.stop_reason_ = result.stop_reason
        self.best_step_ = result.best_step
