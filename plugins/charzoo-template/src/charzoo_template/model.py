"""A tiny convolutional character language model built on charzoo's window family.

Everything except the network is inherited: :class:`charzoo.window.NeuralWindowLM` supplies
the context windows, the training loop (AdamW, schedules, validation, early stopping, Ctrl-C),
scoring, sampling and saving. A model only declares its hyperparameters and builds its module.
"""

from __future__ import annotations

import torch
from torch import nn

from charzoo.params import PositiveInt
from charzoo.window import NeuralWindowLM

__all__ = ["CharTinyCNN", "TinyCNNModule"]


class TinyCNNModule(nn.Module):
    """Embed the context, one 1-D convolution with ReLU, then a linear read-out.

    Maps contexts ``(N, block_size)`` of character ids to next-character logits ``(N, V)``.
    """

    def __init__(
        self, vocab_size: int, block_size: int, n_embd: int, n_channels: int, kernel_size: int
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, n_embd)
        self.conv = nn.Conv1d(n_embd, n_channels, kernel_size)
        self.output = nn.Linear(n_channels * (block_size - kernel_size + 1), vocab_size)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        x = self.embedding(context).transpose(1, 2)  # (N, n_embd, block_size)
        return self.output(torch.relu(self.conv(x)).flatten(1))


class CharTinyCNN(NeuralWindowLM):
    """Tiny convolutional language model: a 1-D convolution over the previous characters.

    Parameters
    ----------
    block_size : int, default=8
        Number of previous characters the model sees.
    n_embd : int, default=16
        Dimension of the character embeddings.
    n_channels : int, default=64
        Output channels of the convolution.
    kernel_size : int, default=3
        Width of the convolution; at most ``block_size``.
    **kwargs
        Training parameters of :class:`charzoo.neural.NeuralMixin` (``max_steps``,
        ``learning_rate``, ``batch_size``, ...) and common parameters of
        :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...). This model changes
        two training defaults: ``learning_rate=3e-3`` and ``max_steps=5000``.

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : TinyCNNModule
    history_ : dict of lists
    n_steps_ : int

    References
    ----------
    Y. LeCun, Y. Bengio, "Convolutional networks for images, speech, and time series",
    The Handbook of Brain Theory and Neural Networks (1995).

    Examples
    --------
    >>> from charzoo_template import CharTinyCNN
    >>> from charzoo.datasets import load_names
    >>> model = CharTinyCNN(max_steps=200, random_state=0).fit(load_names()[:2000])
    >>> len(model.generate(3))
    3
    """

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {"n_channels": 16}

    # validated by fit (never in __init__), together with the inherited parameters
    _parameter_constraints: dict = {
        "block_size": [PositiveInt],
        "n_embd": [PositiveInt],
        "n_channels": [PositiveInt],
        "kernel_size": [PositiveInt],
    }
    # inherited defaults this model changes (no need to re-declare them in __init__)
    _default_overrides: dict = {"learning_rate": 3e-3, "max_steps": 5000}

    def __init__(
        self,
        *,
        block_size: int = 8,
        n_embd: int = 16,
        n_channels: int = 64,
        kernel_size: int = 3,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.block_size = block_size
        self.n_embd = n_embd
        self.n_channels = n_channels
        self.kernel_size = kernel_size

    def _check_params(self) -> None:
        if self.kernel_size > self.block_size:
            raise ValueError(
                f"kernel_size={self.kernel_size} must not exceed block_size={self.block_size}"
            )

    def _build_module(self) -> TinyCNNModule:
        return TinyCNNModule(
            self.tokenizer_.vocab_size,
            self.block_size,
            self.n_embd,
            self.n_channels,
            self.kernel_size,
        )
