"""Multilayer perceptron language model (Bengio et al. 2003; makemore lecture 2)."""

from __future__ import annotations

import torch
from torch import nn

from charzoo.hookspecs import hookimpl
from charzoo.layers import output_layer, tanh_layer
from charzoo.params import Fraction, PositiveInt
from charzoo.window import NeuralWindowLM

__all__ = ["CharMLP", "MLPModule"]


class MLPModule(nn.Module):
    """Embed each context character, concatenate, ``n_layers`` tanh layers (each with optional
    dropout), logits."""

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_embd: int,
        n_hidden: int,
        n_layers: int = 1,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, n_embd)
        widths = [block_size * n_embd] + [n_hidden] * n_layers
        self.hidden = nn.Sequential(
            *(tanh_layer(a, b, batch_norm, dropout) for a, b in zip(widths[:-1], widths[1:]))
        )
        self.output = output_layer(n_hidden, vocab_size)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden(self.embedding(context).flatten(1)))


class CharMLP(NeuralWindowLM):
    """Bengio-style MLP: the previous ``block_size`` characters predict the next one.

    Parameters
    ----------
    block_size : int, default=3
        Number of previous characters in the context.
    n_embd : int, default=10
        Dimension of the learned character embeddings.
    n_hidden : int, default=200
        Width of each tanh hidden layer.
    n_layers : int, default=1
        Number of hidden Linear(-BatchNorm)-tanh layers.
    batch_norm : bool, default=False
        Batch-normalise every hidden layer before its tanh (makemore lecture 3). Training
        uses batch statistics; ``score`` and ``generate`` use the running statistics (eval
        mode), so a text scores the same alone or in a batch.
    dropout : float, default=0.0
        Dropout probability on the output of every hidden layer during training (0 = none).
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

    Notes
    -----
    Hidden layers use Kaiming-normal init with the tanh gain 5/3 and the output layer is
    scaled down by 10, so the initial loss is close to ln(vocab_size).
    The documented preset for names is ``CharMLP.from_preset("names")``: block 8, BatchNorm,
    107k parameters, an exponential moving average of the weights (``ema_decay=0.999``) and
    8,000 steps. Measured quality and fit time: ``docs/zoo.md``; every configuration tried
    is in ``benchmarks/results/quality_push.md``.

    References
    ----------
    Y. Bengio, R. Ducharme, P. Vincent, C. Jauvin, "A Neural Probabilistic Language Model",
    JMLR 3 (2003).
    S. Ioffe, C. Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
    Internal Covariate Shift", ICML (2015).
    K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers", ICCV (2015).
    A. Karpathy, "Building makemore Part 3: Activations & Gradients, BatchNorm" (2022).

    Examples
    --------
    >>> from charzoo import CharMLP
    >>> from charzoo.datasets import load_names
    >>> model = CharMLP(block_size=3, max_steps=200, random_state=0).fit(load_names()[:2000])
    >>> samples = model.generate(3, prefix="an")
    >>> all(s.startswith("an") for s in samples)
    True
    """

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {"n_embd": 16, "n_hidden": 32, "n_layers": 1}

    _parameter_constraints: dict = {
        "block_size": [PositiveInt],
        "n_embd": [PositiveInt],
        "n_hidden": [PositiveInt],
        "n_layers": [PositiveInt],
        "batch_norm": ["boolean"],
        "dropout": [Fraction(closed="left")],
    }
    _default_overrides: dict = {"batch_size": 128, "learning_rate": 3e-3, "max_steps": 30000}

    #: Documented settings; "names" is the names benchmark's (``from_preset("names")``).
    presets = {
        "names": {
            "block_size": 8,
            "n_embd": 16,
            "n_hidden": 256,
            "n_layers": 2,
            "batch_norm": True,
            "batch_size": 256,
            "learning_rate": 5e-3,
            "max_steps": 8000,
            "ema_decay": 0.999,
        }
    }

    def __init__(
        self,
        *,
        block_size: int = 3,
        n_embd: int = 10,
        n_hidden: int = 200,
        n_layers: int = 1,
        batch_norm: bool = False,
        dropout: float = 0.0,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.block_size = block_size
        self.n_embd = n_embd
        self.n_hidden = n_hidden
        self.n_layers = n_layers
        self.batch_norm = batch_norm
        self.dropout = dropout

    def _build_module(self) -> MLPModule:
        return MLPModule(
            self.tokenizer_.vocab_size,
            self.block_size,
            self.n_embd,
            self.n_hidden,
            self.n_layers,
            self.batch_norm,
            self.dropout,
        )


@hookimpl
def charzoo_register_models(register):
    register(CharMLP, name="mlp", description="Bengio et al. 2003 MLP over a fixed context")
