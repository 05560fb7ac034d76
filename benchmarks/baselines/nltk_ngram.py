"""NLTK n-gram baselines (``nltk.lm.MLE`` and ``nltk.lm.KneserNeyInterpolated``).

The same predictions as :class:`charzoo.CharNGram` in document mode: every character of a
text and its end marker, the context padded with ``<s>`` at the start.
"""

from __future__ import annotations

import math

__all__ = ["fit_nltk", "nltk_nll"]


def fit_nltk(kind: str, train: list[str], order: int):
    """Fit ``nltk.lm.MLE`` (``kind="mle"``) or ``KneserNeyInterpolated`` (``"kneser_ney"``)."""
    from nltk.lm import MLE, KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    data, vocab = padded_everygram_pipeline(order, [list(t) for t in train])
    lm = {"mle": MLE, "kneser_ney": KneserNeyInterpolated}[kind](order)
    lm.fit(data, vocab)
    return lm


def nltk_nll(lm, texts: list[str]) -> tuple[float, int]:
    """Total NLL (nats) of ``texts`` and the number of predictions, one text at a time."""
    from nltk.lm.preprocessing import pad_both_ends

    order = lm.order
    total, count = 0.0, 0
    for text in texts:
        padded = list(pad_both_ends(list(text), n=order))
        for i in range(order - 1, order + len(text)):  # up to and including the first </s>
            total -= lm.logscore(padded[i], padded[i - order + 1 : i]) * math.log(2)
            count += 1
    return total, count
