"""Count-based character bigram model (makemore lecture 1)."""

from __future__ import annotations

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval

from charzoo.data import Corpus
from charzoo.hookspecs import hookimpl
from charzoo.window import WindowLM

__all__ = ["CharBigram"]


class BigramTable(torch.nn.Module):
    """Log-probability table ``log P(next | previous)`` of shape (V, V), used as logits."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.register_buffer("log_probs", torch.zeros(vocab_size, vocab_size))

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        return self.log_probs[context[:, -1]]


class CharBigram(WindowLM):
    """Character bigram model from counts with additive smoothing.

    ``P(b | a) = (count(a, b) + alpha) / (count(a) + alpha * V)``, fitted in closed form (one
    vectorised count, no gradient training). The boundary id is both the start context and
    the end marker.

    Parameters
    ----------
    alpha : float, default=1.0
        Additive (Laplace) smoothing added to every count; 0 gives the maximum-likelihood
        estimate, which assigns zero probability (infinite perplexity) to unseen bigrams.
    **kwargs
        Common parameters of :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : BigramTable
    mode_ : {"document", "stream"}

    References
    ----------
    A. Karpathy, "The spelled-out intro to language modeling: building makemore" (2022).

    Examples
    --------
    >>> from charzoo import CharBigram
    >>> from charzoo.datasets import load_names
    >>> model = CharBigram().fit(load_names())
    >>> round(model.score(["emma", "olivia"]), 1) > 1
    True
    """

    _parameter_constraints: dict = {"alpha": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, *, alpha: float = 1.0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.alpha = alpha

    def _context_length(self) -> int:
        return 1

    def _build_module(self) -> BigramTable:
        return BigramTable(self.tokenizer_.vocab_size)

    def _fit_model(self, train: Corpus, val: Corpus | None, generator: torch.Generator) -> None:
        vocab = self.tokenizer_.vocab_size
        context, target = self._window_data(train).batch(torch.arange(len(train.targets)))
        counts = torch.bincount(context[:, 0] * vocab + target, minlength=vocab * vocab)
        counts = counts.view(vocab, vocab).double() + self.alpha
        self.module_ = self._build_module()
        with torch.no_grad():
            self.module_.log_probs.copy_((counts / counts.sum(1, keepdim=True)).log())


@hookimpl
def charzoo_register_models(register):
    register(CharBigram, name="bigram", description="Count bigram with additive smoothing")
