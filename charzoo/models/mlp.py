"""Multilayer perceptron language model (Bengio et al. 2003; makemore lecture 2)."""

from __future__ import annotations

from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from charzoo.hookspecs import hookimpl
from charzoo.window import NeuralWindowLM

__all__ = ["CharMLP"]


class MLPModule(nn.Module):
    """Embed each context character, concatenate, one tanh hidden layer, logits."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int, n_hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, n_embd)
        self.hidden = nn.Linear(block_size * n_embd, n_hidden)
        self.output = nn.Linear(n_hidden, vocab_size)
        with torch.no_grad():  # near-uniform initial predictions: initial loss ~ ln(V)
            self.output.weight.mul_(0.1)
            self.output.bias.zero_()

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        x = self.embedding(context).flatten(1)
        return self.output(torch.tanh(self.hidden(x)))


class CharMLP(NeuralWindowLM):
    """Bengio-style MLP: the previous ``block_size`` characters predict the next one.

    Parameters
    ----------
    block_size : int, default=3
        Number of previous characters in the context.
    n_embd : int, default=10
        Dimension of the learned character embeddings.
    n_hidden : int, default=200
        Width of the tanh hidden layer.
    **kwargs
        Training parameters of :class:`charzoo.neural.NeuralMixin` (``learning_rate``,
        ``batch_size``, ``max_steps``, ...) and common parameters of
        :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : MLPModule
    history_ : dict of lists
        ``step``, ``train_loss``, ``val_loss`` and ``lr`` at every evaluation.
    n_steps_ : int
        Optimiser steps taken.

    References
    ----------
    Y. Bengio, R. Ducharme, P. Vincent, C. Jauvin, "A Neural Probabilistic Language Model",
    JMLR 3 (2003).

    Examples
    --------
    >>> from charzoo import CharMLP
    >>> from charzoo.datasets import load_names
    >>> model = CharMLP(block_size=3, max_steps=200, random_state=0).fit(load_names()[:2000])
    >>> samples = model.generate(3, prefix="an")
    >>> all(s.startswith("an") for s in samples)
    True
    """

    _parameter_constraints: dict = {
        "block_size": [Interval(Integral, 1, None, closed="left")],
        "n_embd": [Interval(Integral, 1, None, closed="left")],
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        block_size: int = 3,
        n_embd: int = 10,
        n_hidden: int = 200,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        max_steps: int = 30000,
        **kwargs: object,
    ) -> None:
        super().__init__(
            batch_size=batch_size, learning_rate=learning_rate, max_steps=max_steps, **kwargs
        )
        self.block_size = block_size
        self.n_embd = n_embd
        self.n_hidden = n_hidden

    def _build_module(self) -> MLPModule:
        return MLPModule(self.tokenizer_.vocab_size, self.block_size, self.n_embd, self.n_hidden)


@hookimpl
def charzoo_register_models(register):
    register(CharMLP, name="mlp", description="Bengio et al. 2003 MLP over a fixed context")
