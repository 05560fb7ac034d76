"""The next-character distribution of any fitted model, through its incremental decoder.

:class:`NextCharMixin` gives every :class:`~charzoo.base.CharLM` (built-in and plugin models
alike) :meth:`~NextCharMixin.next_char_proba` and :attr:`~NextCharMixin.next_char_labels_`.
The probabilities come from the same :class:`~charzoo.sampler.Decoder` that ``generate``
samples from, so they are the distribution the model samples (at temperature 1) and the one
``score_samples`` multiplies along a text (the conformance suite checks both).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from charzoo.data import check_texts
from charzoo.tokenizer import BOUNDARY_ID
from charzoo.utils import uses_threads

__all__ = ["END", "NextCharMixin"]

END = ""
"""Label of the end-marker column of :meth:`NextCharMixin.next_char_proba` (the empty
string: the text ends, nothing follows)."""


class NextCharMixin:
    """Adds the next-character distribution to a fitted character model."""

    @property
    def next_char_labels_(self) -> list[str]:
        """Column labels of :meth:`next_char_proba`: ``END`` (``""``, the end marker) first,
        then the vocabulary characters in id order (``tokenizer_.chars``)."""
        check_is_fitted(self, "module_")
        return [END, *self.tokenizer_.chars]

    @uses_threads
    @torch.no_grad()
    def next_char_proba(self, prefixes) -> np.ndarray:
        """Probability of each possible next character after each prefix.

        The distribution is the model's own: ``generate`` (at ``temperature=1``, without
        ``top_k``/``top_p``) draws the character after ``prefix`` from it, and
        ``score_samples`` is the sum of the logs of its entries along a text (the chain
        rule), the end marker included in document mode.

        Parameters
        ----------
        prefixes : iterable of str
            Contexts, each NFC-normalised and encoded like ``generate``'s ``prefix``
            (characters outside the vocabulary raise a ``ValueError`` unless
            ``handle_unknown="ignore"`` drops them). Document mode: each prefix is the start
            of a text (``""`` asks for the first character). Stream mode: each prefix is
            the context the stream continues from; before it the model sees the same
            boundary context as at the start of a training text. A model with a bounded
            context (``block_size``) sees the last characters of a long prefix only.

        Returns
        -------
        ndarray of shape (n_prefixes, vocab_size), float64
            Row ``i`` is the distribution after ``prefixes[i]``; each row sums to 1 over the
            vocabulary and the end marker. Columns follow :attr:`next_char_labels_`: column 0
            is the end marker (the text ends after the prefix), column ``j >= 1`` is
            ``tokenizer_.chars[j - 1]``. In stream mode no text ends: the model learns to put
            (almost) no mass on the end marker, ``score_samples`` uses the rows as they are,
            and ``generate`` samples from the character columns renormalised.

        Examples
        --------
        >>> from charzoo import CharBigram
        >>> from charzoo.datasets import load_names
        >>> model = CharBigram().fit(load_names())
        >>> proba = model.next_char_proba(["emm", ""])
        >>> proba.shape == (2, model.tokenizer_.vocab_size)
        True
        >>> best = model.next_char_labels_[proba[0].argmax()]
        >>> best
        'a'
        """
        check_is_fitted(self, "module_")
        prefixes = check_texts(prefixes, name="prefixes")
        self.module_.eval()
        rows = []
        for prefix in prefixes:
            ids = torch.from_numpy(
                self.tokenizer_.encode(prefix, handle_unknown=self.handle_unknown)
            )
            logits = self._decoder().start(ids, 1)
            rows.append(torch.softmax(logits.double().cpu(), dim=-1)[0])
        return torch.stack(rows).numpy()


def stream_sampling_proba(proba: np.ndarray) -> np.ndarray:
    """The rows of :meth:`NextCharMixin.next_char_proba` as stream-mode ``generate`` samples
    them: the end-marker column set to 0, the character columns renormalised."""
    proba = np.array(proba, dtype=np.float64, copy=True)
    proba[..., BOUNDARY_ID] = 0.0
    return proba / proba.sum(axis=-1, keepdims=True)
