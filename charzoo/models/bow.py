"""Causal bag-of-words language model (makemore's BoW baseline)."""

from __future__ import annotations

import torch
from torch import nn

from charzoo.hookspecs import hookimpl
from charzoo.params import PositiveInt
from charzoo.sequence import NeuralSequenceLM

__all__ = ["CharBoW"]


class BoWModule(nn.Module):
    """Running average of the embeddings of every id so far, added to the current embedding,
    then a residual tanh MLP and a linear read-out.

    ``forward(idx (B, T), state) -> (logits (B, T, V), state)``; the state is the running
    ``(sum (B, n_embd), count)`` of past embeddings, so the context is unbounded.
    """

    block_size = None

    def __init__(self, vocab_size: int, n_embd: int, n_hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, n_embd)
        self.mlp = nn.Sequential(
            nn.LayerNorm(n_embd),
            nn.Linear(n_embd, n_hidden),
            nn.Tanh(),
            nn.Linear(n_hidden, n_embd),
        )
        self.output = nn.Linear(n_embd, vocab_size)

    def forward(self, idx: torch.Tensor, state: tuple | None = None) -> tuple[torch.Tensor, tuple]:
        x = self.embedding(idx)
        total = torch.cumsum(x, dim=1)
        count = torch.arange(1, idx.shape[1] + 1, device=idx.device, dtype=x.dtype)
        if state is not None:
            total, count = total + state[0][:, None], count + state[1]
        h = x + total / count[:, None]
        h = h + self.mlp(h)
        return self.output(h), (total[:, -1], count[-1])


class CharBoW(NeuralSequenceLM):
    """Causal bag of words: each character sees the average embedding of all previous ones.

    A cheap baseline between the bigram and the attention models: the context is an unordered
    running average (uniform causal attention), so order beyond the current character is lost.

    Parameters
    ----------
    n_embd : int, default=64
        Embedding width.
    n_hidden : int, default=256
        Hidden units of the MLP.
    seq_length : int, default=64
        Stream mode: length of the training windows.
    batch_size, learning_rate, max_steps : see :class:`charzoo.neural.NeuralMixin`
        Defaults 64, 3e-3, 5000.
    stream_sampling : {"random", "adjacent"}, default="random"
        See :class:`charzoo.sequence.NeuralSequenceLM`.
    **kwargs
        Other training and common parameters.

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : BoWModule

    References
    ----------
    A. Karpathy, makemore (2022), the ``BoW`` model: "a causal bag of words".

    Examples
    --------
    >>> from charzoo import CharBoW
    >>> from charzoo.datasets import load_names
    >>> model = CharBoW(max_steps=50, random_state=0).fit(load_names()[:1000])
    >>> len(model.generate(2))
    2
    """

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {"n_embd": 16, "n_hidden": 32, "seq_length": 32}

    _parameter_constraints: dict = {
        "n_embd": [PositiveInt],
        "n_hidden": [PositiveInt],
        "seq_length": [PositiveInt],
    }
    _default_overrides: dict = {"learning_rate": 3e-3, "max_steps": 5000}

    def __init__(
        self,
        *,
        n_embd: int = 64,
        n_hidden: int = 256,
        seq_length: int = 64,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.n_embd = n_embd
        self.n_hidden = n_hidden
        self.seq_length = seq_length

    def _train_length(self) -> int:
        return self.seq_length

    def _build_module(self) -> BoWModule:
        return BoWModule(self.tokenizer_.vocab_size, self.n_embd, self.n_hidden)


@hookimpl
def charzoo_register_models(register):
    register(CharBoW, name="bow", description="Causal bag of words (running average) + MLP")
