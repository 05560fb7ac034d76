"""Neural bigram: one linear layer on the one-hot previous character (makemore lecture 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from charzoo.hookspecs import hookimpl
from charzoo.window import NeuralWindowLM

__all__ = ["CharNeuralBigram"]


class NeuralBigramModule(nn.Module):
    """``logits = one_hot(previous) @ W``: a (V, V) weight matrix, zero at init (uniform)."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(vocab_size, vocab_size))

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        # row lookup == one-hot matmul. F.embedding, not self.weight[...]: the backward of
        # advanced indexing (index_put_ with accumulate) adds rows in a thread-dependent order
        # on the CPU, so fits with >1 thread differed by ~1e-6..4e-5 nats per text
        return F.embedding(context[:, -1], self.weight)


class CharNeuralBigram(NeuralWindowLM):
    """Bigram model trained by gradient descent: the previous character's row of logits.

    The same model family as :class:`CharBigram`, but the table of log-counts is learned by
    minimising the NLL; it converges to the count bigram's perplexity, and weight decay plays
    the role of additive smoothing.

    Parameters
    ----------
    batch_size : int, default=8192
        Windows per step (the lecture uses the full data set each step).
    learning_rate : float, default=0.1
        Peak AdamW learning rate; a single table tolerates a large rate.
    max_steps : int, default=300
        Optimiser steps.
    **kwargs
        Training parameters of :class:`charzoo.neural.NeuralMixin` and common parameters of
        :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : NeuralBigramModule
    history_ : dict of lists
    n_steps_ : int

    References
    ----------
    A. Karpathy, "The spelled-out intro to language modeling: building makemore" (2022).

    Examples
    --------
    >>> from charzoo import CharNeuralBigram
    >>> from charzoo.datasets import load_names
    >>> model = CharNeuralBigram(max_steps=100, random_state=0).fit(load_names()[:2000])
    >>> model.score(["emma"]) < 27
    True
    """

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {}

    _default_overrides: dict = {"batch_size": 8192, "learning_rate": 0.1, "max_steps": 300}

    def _context_length(self) -> int:
        return 1

    def _build_module(self) -> NeuralBigramModule:
        return NeuralBigramModule(self.tokenizer_.vocab_size)


@hookimpl
def charzoo_register_models(register):
    register(
        CharNeuralBigram, name="neural_bigram", description="Bigram as one trained linear layer"
    )
