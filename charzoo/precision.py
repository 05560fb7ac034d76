"""Numeric precision and compilation of the neural models (``precision`` and ``compile``).

``precision="auto"`` trains, scores and samples with bfloat16 autocast and TF32 matmuls on a
CUDA device that supports bfloat16, and in float32 everywhere else (so CPU results do not
change). ``"bf16"`` and ``"fp16"`` force autocast on any device; ``"fp16"`` adds a gradient
scaler (float16 gradients underflow without one). Reported NLLs are always computed in
float32: the scoring code casts the logits before the cross-entropy.

``compile=True`` wraps the training forward in :func:`torch.compile`. Compilation happens at
the first step; when it fails (no C++ compiler, unsupported platform or Python) training goes
on with the plain module after one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = [
    "PRECISIONS",
    "CompileFallbackWarning",
    "PrecisionDecoder",
    "compiled",
    "grad_scaler",
    "precision_context",
    "resolve_precision",
]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class CompileFallbackWarning(RuntimeWarning):
    """``torch.compile`` failed; the model trains uncompiled."""


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """The precision ``"auto"`` stands for on ``device`` (others are returned as they are)."""
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


@contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@contextmanager
def precision_context(precision: str, device: torch.device | str) -> Iterator[None]:
    """Autocast to the precision's dtype (and TF32 matmuls on CUDA) inside the block; nothing
    for ``"fp32"`` (or ``"auto"`` off CUDA)."""
    device = torch.device(device)
    resolved = resolve_precision(precision, device)
    if resolved == "fp32":
        yield
        return
    with _tf32(device.type == "cuda"), torch.autocast(device.type, dtype=_DTYPES[resolved]):
        yield


def grad_scaler(precision: str, device: torch.device | str) -> torch.amp.GradScaler | None:
    """A gradient scaler for ``"fp16"``, else None."""
    device = torch.device(device)
    if resolve_precision(precision, device) != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


class compiled:  # noqa: N801 - used like a function
    """Call ``torch.compile(module)`` lazily; on the first failure warn once and call the
    plain module from then on.

    Parameters
    ----------
    module : torch.nn.Module
    enabled : bool, default=True
        False: always call the plain module.

    Attributes
    ----------
    active : bool
        True while the compiled module is used.
    """

    def __init__(self, module: torch.nn.Module, enabled: bool = True) -> None:
        self.module = module
        self.active = enabled
        self.target: torch.nn.Module = module
        if enabled:
            try:
                self.target = torch.compile(module)
            except Exception as exc:  # noqa: BLE001 - any failure means "run uncompiled"
                self.fall_back(exc)

    def fall_back(self, exc: BaseException) -> None:
        """Use the plain module from now on, with one :class:`CompileFallbackWarning`."""
        self.active, self.target = False, self.module
        warnings.warn(
            f"compile=True: torch.compile failed ({type(exc).__name__}: {str(exc)[:200]}); "
            "training without compilation. Set compile=False to silence this warning.",
            CompileFallbackWarning,
            stacklevel=4,
        )

    def run(self, function, *args: object) -> object:
        """``function(target, *args)``; a failure of the compiled module falls back and runs
        ``function(module, *args)`` again."""
        if not self.active:
            return function(self.module, *args)
        try:
            return function(self.target, *args)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - compilation errors have no common base
            self.fall_back(exc)
            return function(self.module, *args)


class PrecisionDecoder:
    """A decoder whose module calls run under :func:`precision_context` (sampling in the
    model's precision); other attributes (``select``, ...) are the wrapped decoder's."""

    def __init__(self, decoder: object, precision: str, device: torch.device) -> None:
        self.decoder, self.precision, self.device = decoder, precision, device

    def start(self, prefix: torch.Tensor, n: int) -> torch.Tensor:
        with precision_context(self.precision, self.device):
            return self.decoder.start(prefix, n)

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        with precision_context(self.precision, self.device):
            return self.decoder.advance(tokens)

    def __getattr__(self, name: str) -> object:
        return getattr(self.decoder, name)
