"""Count-based character bigram model (makemore lecture 1): a second-order CharNGram."""

from __future__ import annotations

from charzoo.hookspecs import hookimpl
from charzoo.models.ngram import CharNGram
from charzoo.params import Options

__all__ = ["CharBigram"]


class CharBigram(CharNGram):
    """Character bigram model from counts with additive smoothing.

    ``P(b | a) = (count(a, b) + alpha) / (count(a) + alpha * V)``, fitted in closed form (one
    vectorised count, no gradient training). The boundary id is both the start context and
    the end marker. This is :class:`CharNGram` with ``order=2`` and ``smoothing="add_k"``
    (the same counting mechanism); other smoothings may be chosen, the order may not.

    Parameters
    ----------
    alpha : float, default=1.0
        Additive (Laplace) smoothing added to every count; 0 gives the maximum-likelihood
        estimate, which assigns zero probability (infinite perplexity) to unseen bigrams.
    order : int, default=2
        Always 2.
    smoothing : {"add_k", "kneser_ney", "witten_bell"}, default="add_k"
        See :class:`CharNGram`.
    **kwargs
        Common parameters of :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : NGramTable
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

    _parameter_constraints: dict = {"order": [Options(2)]}
    _default_overrides: dict = {"order": 2, "smoothing": "add_k"}


@hookimpl
def charzoo_register_models(register):
    register(CharBigram, name="bigram", description="Count bigram with additive smoothing")
