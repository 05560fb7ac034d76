"""Count-based character n-gram models with smoothing (Kneser-Ney, Witten-Bell, add-k).

Every n-gram is one int64 key (its ids as digits in base ``vocab_size`` or, for orders whose
digits would overflow, the rank of its context among the n-grams of the order below and its
last id; see :mod:`charzoo.models._ngram_counting`), so fitting is chunked numpy sorting and
scoring one sorted search per order and table: memory is proportional to the corpus in its
smallest dtype plus the distinct n-grams. The one exception is bounded: orders whose key space
``vocab_size ** k`` has at most 2**21 entries also get dense lookup tables (built on first use,
see :class:`~charzoo.models._ngram_table.NGramTable`), never ``vocab_size ** order`` beyond that.
"""

from __future__ import annotations

import numpy as np
import torch

from charzoo.data import Corpus
from charzoo.hookspecs import hookimpl
from charzoo.models._ngram_counting import (
    context_ranks,
    count_ngrams,
    layout,
    packed_orders,
    rolling_keys,
)
from charzoo.models._ngram_table import NGramTable, log_prob_numpy
from charzoo.params import Fraction, NonNegativeFloat, NonNegativeInt, Options, PositiveInt
from charzoo.utils import module_device
from charzoo.window import WindowLM

__all__ = ["CharNGram", "NGramTable"]  # NGramTable: re-exported from _ngram_table

SMOOTHINGS = ("kneser_ney", "witten_bell", "add_k")
_POSITIONS_PER_LOOKUP = 1 << 18  # corpus positions scored together
_FALLBACK_DISCOUNTS = np.array([0.5, 1.0, 1.5])  # KenLM's defaults for --discount_fallback


def _kn_discounts(counts: np.ndarray, discount: float | None) -> np.ndarray:
    """Discounts for counts 1, 2 and 3+ (modified Kneser-Ney, Chen & Goodman 1999, eq. 26).

    When the counts of counts cannot give them (a count of count 1, 2 or 3 is zero, or an
    estimate falls outside ``[0, j]`` for count ``j``, as for the unigrams of a small
    alphabet) the fixed discounts 0.5, 1 and 1.5 are used, the fallback of KenLM's
    ``lmplz --discount_fallback``.
    """
    if discount is not None:
        return np.full(3, float(discount))
    n = [float((counts == c).sum()) for c in (1, 2, 3, 4)]
    if n[0] and n[1] and n[2]:
        y = n[0] / (n[0] + 2 * n[1])
        d = np.array([j - (j + 1) * y * n[j] / n[j - 1] for j in (1, 2, 3)])
        if ((d >= 0) & (d <= np.array([1.0, 2.0, 3.0]))).all():
            return d
    return _FALLBACK_DISCOUNTS.copy()


class CharNGram(WindowLM):
    """Character n-gram model of any order from smoothed counts.

    The previous ``order - 1`` characters predict the next one. Probabilities are interpolated
    from the longest seen context down to the unigram and a uniform floor, so perplexity is
    finite on any text made of training characters. Fitting is closed-form (vectorised counts,
    no gradient training). The start of a text is a single start symbol (the boundary id),
    as in KenLM and IRSTLM: contexts reaching before it back off to it, so the counts and
    probabilities are those of the toolkits on ``<s> c1 .. cL </s>``; the boundary id also marks
    the end of a text in document mode.

    Parameters
    ----------
    order : int, default=3
        n of the n-gram: the context is ``order - 1`` characters (``order=2`` is a bigram).
    smoothing : {"kneser_ney", "witten_bell", "add_k"}, default="kneser_ney"
        ``"kneser_ney"``: interpolated modified Kneser-Ney (absolute discounting of the counts,
        lower orders from continuation counts). ``"witten_bell"``: interpolation weighted by
        the number of distinct followers of a context. ``"add_k"``: ``(count + alpha) /
        (total + alpha * V)`` at the longest seen context (additive smoothing, no
        interpolation).
    alpha : float, default=1.0
        Pseudo-count of ``"add_k"``; 0 is the maximum-likelihood estimate, which gives unseen
        n-grams zero probability (infinite perplexity). Ignored by the other smoothings.
    discount : float in (0, 1] or None, default=None
        Fixed Kneser-Ney discount for every order; None estimates three discounts per order
        (for counts 1, 2 and 3+) from the counts of counts.
    prune : int, default=0
        Drop the n-grams of order 3 and above seen at most ``prune`` times in the training
        data (``prune=1`` drops singletons, as KenLM's ``lmplz --prune 0 0 1``), after
        smoothing: their probability mass goes to their context's back-off weight, so every
        distribution still sums to one. Shrinks the model and its scoring memory at a small
        cost in perplexity (see the n-gram section of ``docs/zoo.md``); 0 keeps every n-gram.
    **kwargs
        Common parameters of :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : NGramTable
    mode_ : {"document", "stream"}
    n_ngrams_ : int
        Number of distinct n-grams stored over all orders.

    References
    ----------
    R. Kneser, H. Ney, "Improved backing-off for M-gram language modeling", ICASSP (1995).
    S. F. Chen, J. Goodman, "An empirical study of smoothing techniques for language
    modeling", Computer Speech & Language 13 (1999).
    I. H. Witten, T. C. Bell, "The zero-frequency problem", IEEE Trans. Inf. Theory 37 (1991).

    Examples
    --------
    >>> from charzoo import CharNGram
    >>> from charzoo.datasets import load_names
    >>> model = CharNGram(order=4).fit(load_names())
    >>> model.score(["emma", "olivia"]) < 10
    True
    """

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {}

    _parameter_constraints: dict = {
        "order": [PositiveInt],
        "smoothing": [Options(*SMOOTHINGS)],
        "alpha": [NonNegativeFloat],
        "discount": [Fraction(closed="right"), None],
        "prune": [NonNegativeInt],
    }

    def __init__(
        self,
        *,
        order: int = 3,
        smoothing: str = "kneser_ney",
        alpha: float = 1.0,
        discount: float | None = None,
        prune: int = 0,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.order = order
        self.smoothing = smoothing
        self.alpha = alpha
        self.discount = discount
        self.prune = prune

    def _context_length(self) -> int:
        return max(1, self.order - 1)

    def _build_module(self) -> NGramTable:
        interpolate = self.smoothing != "add_k"
        return NGramTable(self.tokenizer_.vocab_size, self.order, interpolate)

    @property
    def n_ngrams_(self) -> int:
        return sum(len(self.module_.level(k)[0]) for k in range(1, self.order + 1))

    def _fit_model(self, train: Corpus, val: Corpus | None, generator: torch.Generator) -> None:
        vocab, order = self.tokenizer_.vocab_size, self.order
        flat, is_target = layout(train.targets, train.lengths, order - 1, vocab)
        counted, suffixes = count_ngrams(flat, is_target, vocab, order)
        del flat, is_target
        packed = packed_orders(vocab, order)
        boundary_first = None  # for ranked orders: which n-grams start with the start symbol
        self.module_ = self._build_module()
        names = ("ngram_keys", "alpha", "context_keys", "gamma", "context_offsets")
        for k in range(1, order + 1):
            ngrams, raw = counted[k - 1]
            counts = raw.astype(np.float64)
            if k >= packed:  # ranked orders find their first id through their context
                boundary_first = (
                    ngrams < vocab ** (k - 1) if k == packed else boundary_first[ngrams // vocab]
                )
            if self.smoothing == "kneser_ney" and k < order:
                if k + 1 in suffixes:  # distinct left extensions from the suffix ranks
                    n_left = np.bincount(suffixes.pop(k + 1), minlength=len(ngrams))
                    counts = np.where(boundary_first | (n_left == 0), counts, n_left)
                else:
                    counts = _continuation_counts(ngrams, counts, counted[k][0], vocab, k)
            contexts, ctx_index = np.unique(ngrams // vocab, return_inverse=True)
            ctx_index = ctx_index.reshape(-1)
            total = np.bincount(ctx_index, weights=counts)
            if self.smoothing == "kneser_ney":
                d = _kn_discounts(counts, self.discount)
                discount = d[np.clip(counts.astype(np.int64) - 1, 0, 2)]
                alpha = np.maximum(counts - discount, 0) / total[ctx_index]
                gamma = np.bincount(ctx_index, weights=np.minimum(counts, discount)) / total
            elif self.smoothing == "witten_bell":
                followers = np.bincount(ctx_index).astype(np.float64)
                alpha = counts / (total + followers)[ctx_index]
                gamma = followers / (total + followers)
            else:  # add-k, in a form that stays finite for any finite alpha
                pseudo = self.alpha * vocab
                alpha = counts / (total + pseudo)[ctx_index]
                gamma = 1.0 / (1.0 + total / pseudo) if pseudo > 0 else np.zeros_like(total)
            if self.prune and k >= 3:  # drop rare n-grams, their mass backs off
                drop = raw <= self.prune
                gamma = gamma + np.bincount(ctx_index[drop], alpha[drop], len(contexts))
                if packed <= k < order:  # the ranks of the next order index these keys
                    alpha = np.where(drop, 0.0, alpha)
                else:
                    keep = ~drop
                    ngrams, alpha, ctx_index = ngrams[keep], alpha[keep], ctx_index[keep]
            per_context = np.bincount(ctx_index, minlength=len(contexts))
            offsets = np.concatenate([[0], np.cumsum(per_context)])
            del counts, ctx_index, raw
            counted[k - 1] = None  # only the next order's keys are still needed
            for name, value in zip(names, (ngrams, alpha, contexts, gamma, offsets)):
                value = torch.from_numpy(np.ascontiguousarray(value))
                setattr(
                    self.module_,
                    f"{name}_{k}",
                    value.float() if value.is_floating_point() else value.long(),
                )
        self.module_.to(self._resolve_device())

    def _token_nll(self, corpus: Corpus) -> torch.Tensor:
        """NLL of every target, from the packed keys of its contexts computed chunk by chunk
        over a compact layout of the corpus (the same contexts as the window view: boundary
        ids before the start of a text, which back off to the single start symbol). On the
        CPU the lookups run in numpy (one thread: no contention with other work)."""
        module = self.module_.eval()
        vocab, order = module.vocab_size, module.order
        pad = max(1, order - 1)
        flat, is_target = layout(corpus.targets, corpus.lengths, pad, vocab)
        device = module_device(module)
        out = []
        with torch.no_grad():
            for start in range(pad, len(flat), _POSITIONS_PER_LOOKUP):
                stop = min(start + _POSITIONS_PER_LOOKUP, len(flat))
                select = flat[start:stop] != 0 if is_target is None else is_target[start:stop]
                target = flat[start:stop][select].astype(np.int64)
                ctx_keys = [np.zeros_like(target)]
                packed = packed_orders(vocab, order)
                if order > 1:  # the (k-1)-grams ending just before each target
                    width = min(order, packed) - 1
                    previous = rolling_keys(flat[start - width : stop - 1], vocab, width)
                    ctx_keys += [keys[select] for keys in previous]
                if order > packed:  # ranks of the longer contexts
                    window = flat[start - (order - 1) : stop - 1].astype(np.int64)
                    levels = [module.level(j)[0].cpu().numpy() for j in range(1, order)]
                    ranks = context_ranks(window[None, :], vocab, packed, order - 1, levels)
                    for k in range(packed + 1, order + 1):
                        ctx_keys.append(ranks[k - 1][0, order - 2 :][select])
                if device.type == "cpu":
                    log_prob = torch.from_numpy(log_prob_numpy(module, ctx_keys, target))
                else:
                    log_prob = module.log_prob_from_keys(
                        [torch.from_numpy(key).to(device) for key in ctx_keys],
                        torch.from_numpy(target).to(device),
                    ).cpu()
                out.append(-log_prob.float())
        return torch.cat(out) if out else torch.empty(0)


def _continuation_counts(
    ngrams: np.ndarray, counts: np.ndarray, longer: np.ndarray, vocab: int, k: int
) -> np.ndarray:
    """Kneser-Ney counts of lower-order k-grams: distinct characters seen before each one.

    A k-gram starting with the boundary id (start padding) can only follow padding, so it
    keeps its raw count (as KenLM does for n-grams starting with ``<s>``).
    """
    suffixes, n_left = np.unique(longer % vocab**k, return_counts=True)
    if len(suffixes) == 0:  # no longer n-grams (texts shorter than the order): raw counts
        return counts
    pos = np.minimum(np.searchsorted(suffixes, ngrams), len(suffixes) - 1)
    hit = suffixes[pos] == ngrams
    starts_with_boundary = (ngrams < vocab ** (k - 1)) & (k > 1)
    return np.where(starts_with_boundary | ~hit, counts, n_left[pos])


@hookimpl
def charzoo_register_models(register):
    register(CharNGram, name="ngram", description="Count n-gram of any order, Kneser-Ney smoothing")
