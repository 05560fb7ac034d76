"""Hierarchical WaveNet-style model: characters fused pairwise, level by level (lecture 5)."""

from __future__ import annotations

import torch
from torch import nn

from charzoo.hookspecs import hookimpl
from charzoo.layers import output_layer, tanh_layer
from charzoo.params import Fraction, PositiveInt
from charzoo.window import NeuralWindowLM

__all__ = ["CharWaveNet", "FlattenConsecutive"]


class FlattenConsecutive(nn.Module):
    """Concatenate every ``n`` consecutive vectors: ``(B, T, C) -> (B, T // n, C * n)``."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        return x.reshape(batch, length // self.n, channels * self.n)


class WaveNetModule(nn.Module):
    """Embedding, then ``depth`` levels of (fuse pairs, Linear, BatchNorm, tanh, dropout),
    logits.

    Each level halves the sequence: the receptive field doubles, as in WaveNet's dilated
    causal convolutions with dilation 1, 2, 4, ...; after the last level one vector remains.
    """

    def __init__(
        self, vocab_size: int, block_size: int, n_embd: int, n_hidden: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, n_embd)
        levels = []
        width = n_embd
        for _ in range(block_size.bit_length() - 1):
            levels += [FlattenConsecutive(2), tanh_layer(2 * width, n_hidden, True, dropout)]
            width = n_hidden
        self.levels = nn.Sequential(*levels)
        self.output = output_layer(width, vocab_size)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        return self.output(self.levels(self.embedding(context)).squeeze(1))


class CharWaveNet(NeuralWindowLM):
    """Tree of pairwise fusions over the previous ``block_size`` characters.

    Consecutive characters are fused in pairs, then pairs of pairs, and so on
    (``depth = log2(block_size)`` levels of Linear-BatchNorm-tanh), instead of squashing the
    whole context in one layer as :class:`CharMLP` does. BatchNorm normalises over the batch
    and the positions of each level; ``score``/``generate`` use its running statistics.

    Parameters
    ----------
    block_size : int, default=8
        Context length; must be a power of two (1 gives a bigram-like model with no level).
    n_embd : int, default=24
        Character embedding dimension.
    n_hidden : int, default=128
        Width of every level.
    dropout : float, default=0.0
        Dropout probability on the output of every level during training (0 = none).
    **kwargs
        Training parameters of :class:`charzoo.neural.NeuralMixin` (``learning_rate``,
        ``batch_size``, ``max_steps``, ...) and common parameters of
        :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : WaveNetModule
    history_ : dict of lists
    n_steps_ : int

    Notes
    -----
    The documented preset for names is ``CharWaveNet.from_preset("names")``: block 8,
    ``n_hidden=256``, ``dropout=0.05``, batch 128, an exponential moving average of the
    weights (``ema_decay=0.999``), 20,000 steps. Measured quality and fit time:
    ``docs/zoo.md``; every configuration tried is in ``benchmarks/results/quality_push.md``.

    References
    ----------
    A. van den Oord et al., "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499
    (2016).
    A. Karpathy, "Building makemore Part 5: Building a WaveNet" (2022).

    Examples
    --------
    >>> from charzoo import CharWaveNet
    >>> from charzoo.datasets import load_names
    >>> model = CharWaveNet(block_size=4, max_steps=50, random_state=0).fit(load_names()[:500])
    >>> model.depth
    2
    """

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {"n_embd": 16, "n_hidden": 32}

    _parameter_constraints: dict = {
        "block_size": [PositiveInt],
        "n_embd": [PositiveInt],
        "n_hidden": [PositiveInt],
        "dropout": [Fraction(closed="left")],
    }
    _default_overrides: dict = {"batch_size": 128, "learning_rate": 3e-3, "max_steps": 30000}

    #: Documented settings; "names" is the names benchmark's (``from_preset("names")``).
    presets = {
        "names": {
            "block_size": 8,
            "n_embd": 24,
            "n_hidden": 256,
            "dropout": 0.05,
            "batch_size": 128,
            "learning_rate": 4e-3,
            "max_steps": 20000,
            "ema_decay": 0.999,
        }
    }

    def __init__(
        self,
        *,
        block_size: int = 8,
        n_embd: int = 24,
        n_hidden: int = 128,
        dropout: float = 0.0,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.block_size = block_size
        self.n_embd = n_embd
        self.n_hidden = n_hidden
        self.dropout = dropout

    @property
    def depth(self) -> int:
        """Number of fusion levels, ``log2(block_size)``."""
        return self.block_size.bit_length() - 1

    def _check_params(self) -> None:
        if self.block_size & (self.block_size - 1):
            lower = 1 << (self.block_size.bit_length() - 1)
            raise ValueError(
                f"CharWaveNet fuses characters in pairs, so block_size must be a power of two "
                f"(1, 2, 4, 8, ...); got {self.block_size}. Use {lower} or {2 * lower}."
            )

    def _build_module(self) -> WaveNetModule:
        return WaveNetModule(
            self.tokenizer_.vocab_size, self.block_size, self.n_embd, self.n_hidden, self.dropout
        )


@hookimpl
def charzoo_register_models(register):
    register(CharWaveNet, name="wavenet", description="Hierarchical WaveNet-style fusion model")
