"""Layers shared by the neural models: makemore's tanh layer with Kaiming init, a BatchNorm
that takes sequences, a dropout that is cheap on the CPU, and the output layer scaled down at
init. Plugins may use them too."""

from __future__ import annotations

import torch
from torch import nn

from charzoo.rng import current_generator

__all__ = ["BatchNorm", "Dropout", "output_layer", "tanh_layer"]


class BatchNorm(nn.BatchNorm1d):
    """BatchNorm over features that also takes ``(N, T, C)`` input (statistics over N and T).

    ``nn.BatchNorm1d`` expects channels in dimension 1; a sequence of feature vectors has them
    last, so 3-D input is transposed around the normalisation (makemore lecture 5).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            return super().forward(x.transpose(1, 2)).transpose(1, 2)
        return super().forward(x)


class Dropout(nn.Dropout):
    """Inverted dropout (``nn.Dropout``'s semantics) whose mask is cheap to make on the CPU.

    In training, each element is zeroed with probability ``p`` and the others are scaled by
    ``1 / (1 - p)``; in evaluation the input passes unchanged. On the CPU the mask is drawn as
    ``uniform(0, 1) >= p`` in float32 and multiplied in, so the backward pass is one
    multiplication by the saved mask; ``torch``'s own CPU dropout draws a Bernoulli tensor
    and takes about twice as long forward and backward together
    (``benchmarks/dropout_speed.py``). Inside ``fit`` the mask is drawn from the fit's own
    generator (:func:`charzoo.rng.current_generator`), never from torch's global one; outside
    a fit on a non-CPU device torch's fused kernel is used.
    Being an ``nn.Dropout``, it has no state and ``isinstance(m, nn.Dropout)`` holds.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0.0
        generator = current_generator(x.device)
        if x.device.type != "cpu" and generator is None:
            return super().forward(x)
        keep = torch.rand(x.shape, dtype=torch.float32, device=x.device, generator=generator)
        keep = keep.ge_(self.p).mul_(1.0 / (1.0 - self.p))
        return x * keep.to(x.dtype)


def tanh_layer(fan_in: int, fan_out: int, batch_norm: bool, dropout: float = 0.0) -> nn.Sequential:
    """Linear (Kaiming init with tanh gain), optional :class:`BatchNorm`, tanh, optional
    dropout on the tanh output.

    With BatchNorm the linear bias is dropped (the norm's shift replaces it). With
    ``dropout=0`` no dropout module is added, so the layer's state dict is the same as
    without the option.
    """
    linear = nn.Linear(fan_in, fan_out, bias=not batch_norm)
    nn.init.kaiming_normal_(linear.weight, nonlinearity="tanh")  # std = (5/3) / sqrt(fan_in)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)
    norm = [BatchNorm(fan_out)] if batch_norm else []
    drop = [Dropout(dropout)] if dropout > 0 else []
    return nn.Sequential(linear, *norm, nn.Tanh(), *drop)


def output_layer(fan_in: int, vocab_size: int) -> nn.Linear:
    """Final linear layer scaled down at init so the initial loss is about ln(vocab_size)."""
    linear = nn.Linear(fan_in, vocab_size)
    with torch.no_grad():
        linear.weight.mul_(0.1)
        linear.bias.zero_()
    return linear
