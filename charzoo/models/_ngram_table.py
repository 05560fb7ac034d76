"""The fitted n-gram table: interpolated probabilities stored sparsely, one level per order,
looked up by sorted search (torch, any device) or direct indexing (dense small orders), plus
a numpy fast path for tables on the CPU. :class:`~charzoo.models.ngram.CharNGram` fills it."""

from __future__ import annotations

import numpy as np
import torch

from charzoo.models._ngram_counting import context_ranks, packed_orders

__all__ = ["DENSE_LIMIT", "NGramTable", "log_prob_numpy"]

DENSE_LIMIT = 1 << 21  # entries of an order's key space looked up by direct indexing


class NGramTable(torch.nn.Module):
    """Interpolated n-gram probabilities stored sparsely, one level per order.

    Level ``k`` (``k = 1 .. order``) holds the sorted keys of the seen k-grams with their
    weight ``alpha(ctx, w)`` and the sorted keys of the seen (k-1)-character contexts with
    their interpolation weight ``gamma(ctx)`` and the offset of their first k-gram (the
    k-grams of one context are contiguous, so a lookup costs one search per context). For a
    seen context::

        P_k(w | ctx) = alpha(ctx, w) + gamma(ctx) * P_base(w | shorter ctx)

    where the base is ``P_{k-1}`` (``interpolate=True``) or uniform (additive smoothing); an
    unseen context backs off to ``P_{k-1}``. ``P_0`` is uniform over the vocabulary, so every
    character has a non-zero probability unless ``gamma`` is zero. The forward pass returns
    log-probabilities ``(N, V)``, valid logits for the window family.
    """

    def __init__(self, vocab_size: int, order: int, interpolate: bool = True) -> None:
        super().__init__()
        self.vocab_size, self.order, self.interpolate = vocab_size, order, interpolate
        for k in range(1, order + 1):
            self.register_buffer(f"ngram_keys_{k}", torch.zeros(0, dtype=torch.long))
            self.register_buffer(f"alpha_{k}", torch.zeros(0))
            self.register_buffer(f"context_keys_{k}", torch.zeros(0, dtype=torch.long))
            self.register_buffer(f"gamma_{k}", torch.zeros(0))
            self.register_buffer(f"context_offsets_{k}", torch.zeros(1, dtype=torch.long))
        self._dense_tables: dict[tuple, tuple[torch.Tensor, ...]] = {}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        self._dense_tables.clear()  # derived from the tables being replaced
        # table sizes depend on the data: take the stored shapes instead of refusing them
        for name, buffer in self._buffers.items():
            stored = state_dict.get(prefix + name)
            if stored is not None and buffer is not None and stored.shape != buffer.shape:
                self._buffers[name] = buffer.new_empty(stored.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def table_problem(self) -> str | None:
        """What is wrong with the stored tables (for a loaded file), or None: keys must be
        sorted and in range, offsets must cut the k-grams by context, weights must be finite
        and non-negative, and each context's ``sum(alpha) + gamma`` must be 1."""
        vocab = self.vocab_size
        for k in range(1, self.order + 1):
            keys, alpha, ctx_keys, gamma, offsets = self.level(k)
            where = f"order-{k} table"
            if len(alpha) != len(keys) or len(gamma) != len(ctx_keys):
                return f"{where}: keys and weights differ in length"
            if len(offsets) != len(ctx_keys) + 1 or (len(offsets) and offsets[0] != 0):
                return f"{where}: context offsets do not match the contexts"
            if len(offsets) and int(offsets[-1]) != len(keys):
                return f"{where}: context offsets do not cover the k-grams"
            if bool((offsets[1:] < offsets[:-1]).any()):
                return f"{where}: context offsets decrease"
            for name, sorted_keys in (("k-gram", keys), ("context", ctx_keys)):
                if len(sorted_keys) and (
                    bool((sorted_keys[1:] <= sorted_keys[:-1]).any()) or int(sorted_keys[0]) < 0
                ):
                    return f"{where}: {name} keys are not sorted distinct non-negative ids"
            if k <= packed_orders(vocab, self.order) and len(keys) and int(keys[-1]) >= vocab**k:
                return f"{where}: a k-gram key is out of range for {vocab} ids"
            for name, weights in (("alpha", alpha), ("gamma", gamma)):
                if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
                    return f"{where}: {name} weights are negative or not finite"
            if len(ctx_keys):
                sums = torch.zeros(len(ctx_keys), dtype=torch.float64)
                context = torch.repeat_interleave(
                    torch.arange(len(ctx_keys)), (offsets[1:] - offsets[:-1]).long()
                )
                sums.index_add_(0, context, alpha.double())
                total = sums + gamma.double()
                if not bool(torch.allclose(total, torch.ones_like(total), atol=1e-3)):
                    return f"{where}: the probabilities of a context do not sum to 1"
        return None

    def level(self, k: int) -> tuple[torch.Tensor, ...]:
        names = ("ngram_keys", "alpha", "context_keys", "gamma", "context_offsets")
        return tuple(getattr(self, f"{name}_{k}") for name in names)

    def context_keys(self, context: torch.Tensor) -> list[torch.Tensor]:
        """Key of the context of every row at each order: its last ``k - 1`` ids packed
        (oldest the most significant) up to :func:`packed_orders`, above it the rank of the
        ``(k - 1)``-gram among those stored (-1 when unseen)."""
        vocab, order = self.vocab_size, self.order
        packed = packed_orders(vocab, order)
        keys = [torch.zeros(len(context), dtype=torch.long, device=context.device)]
        for k in range(2, min(order, packed) + 1):  # one more character to the left
            keys.append(keys[-1] + context[:, -(k - 1)] * vocab ** (k - 2))
        if order > packed:
            levels = [self.level(j)[0].cpu().numpy() for j in range(1, order)]
            ranks = context_ranks(context.cpu().numpy(), vocab, packed, order - 1, levels)
            for k in range(packed + 1, order + 1):
                keys.append(
                    torch.from_numpy(np.ascontiguousarray(ranks[k - 1][:, -1])).to(context.device)
                )
        return keys

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        vocab = self.vocab_size
        n = len(context)
        uniform = torch.full((n, vocab), 1.0 / vocab, device=context.device)
        probs = uniform
        ctx_keys = self.context_keys(context)
        for k in range(1, self.order + 1):
            ctx_key = ctx_keys[k - 1]
            ngram_keys, alpha, context_keys, gamma, offsets = self.level(k)
            seen, ctx_pos = _lookup(context_keys, ctx_key)
            if not bool(seen.any()):
                break  # a longer context cannot be seen when this one is not
            # the n-grams of context i are ngram_keys[offsets[i]:offsets[i + 1]] (sorted keys)
            rows = seen.nonzero().squeeze(1)
            first = offsets[ctx_pos[rows]]
            length = offsets[ctx_pos[rows] + 1] - first
            row_of = torch.repeat_interleave(rows, length)
            index = torch.arange(int(length.sum()), device=context.device)
            index += torch.repeat_interleave(first - (length.cumsum(0) - length), length)
            a = torch.zeros(n, vocab, device=context.device)
            a[row_of, ngram_keys[index] % vocab] = alpha[index]
            base = probs if self.interpolate else uniform
            probs = torch.where(seen[:, None], a + gamma[ctx_pos, None] * base, probs)
        return probs.log()

    def target_log_prob(self, context: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``log P(target | context)`` for each row: the same interpolation as ``forward`` for
        the target alone (one lookup per order instead of a ``(N, V)`` table)."""
        return self.log_prob_from_keys(self.context_keys(context), target)

    def log_prob_from_keys(
        self, ctx_keys: list[torch.Tensor], target: torch.Tensor
    ) -> torch.Tensor:
        """``log P(target | context)`` from the packed key of the context at every order
        (``ctx_keys[k - 1]``: its last ``k - 1`` characters, boundary ids before the start of
        a text)."""
        vocab = self.vocab_size
        uniform = torch.full(target.shape, 1.0 / vocab, device=target.device)
        prob = uniform
        for k in range(1, self.order + 1):
            ctx_key = ctx_keys[k - 1]
            dense = self._dense(k)
            if dense is not None:  # direct indexing
                seen_table, gamma_table, alpha_table = dense
                seen = seen_table[ctx_key]
                if not bool(seen.any()):
                    break  # a longer context cannot be seen when this one is not
                a, g = alpha_table[ctx_key * vocab + target], gamma_table[ctx_key]
            else:  # binary search in the sorted keys
                ngram_keys, alpha, context_keys, gamma, _ = self.level(k)
                seen, ctx_pos = _lookup(context_keys, ctx_key)
                if not bool(seen.any()):
                    break
                hit, ngram_pos = _lookup(ngram_keys, ctx_key * vocab + target)
                a, g = torch.where(hit, alpha[ngram_pos], 0.0), gamma[ctx_pos]
            base = prob if self.interpolate else uniform
            prob = torch.where(seen, a + g * base, prob)
        return prob.log()

    def _dense(self, k: int) -> tuple[torch.Tensor, ...] | None:
        """Order ``k`` as tables indexed by key (seen context, gamma, alpha), built on first
        use and kept; ``None`` when ``vocab_size ** k`` exceeds ``DENSE_LIMIT`` entries."""
        size = self.vocab_size**k
        if size > DENSE_LIMIT or k > packed_orders(self.vocab_size, self.order):
            return None  # (ranked orders: keys are not packed ids)
        ngram_keys, alpha, context_keys, gamma, _ = self.level(k)
        cache_key = (k, ngram_keys.device)
        if cache_key not in self._dense_tables:
            n_contexts = size // self.vocab_size
            seen = torch.zeros(n_contexts, dtype=torch.bool, device=ngram_keys.device)
            seen[context_keys] = True
            gamma_table = torch.zeros(n_contexts, dtype=gamma.dtype, device=gamma.device)
            gamma_table[context_keys] = gamma
            alpha_table = torch.zeros(size, dtype=alpha.dtype, device=alpha.device)
            alpha_table[ngram_keys] = alpha
            self._dense_tables[cache_key] = (seen, gamma_table, alpha_table)
        return self._dense_tables[cache_key]


def _lookup(sorted_keys: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Whether each key is in ``sorted_keys`` and its position there."""
    if len(sorted_keys) == 0:  # unfitted table
        return torch.zeros_like(keys, dtype=torch.bool), torch.zeros_like(keys)
    pos = torch.searchsorted(sorted_keys, keys).clamp(max=len(sorted_keys) - 1)
    return sorted_keys[pos] == keys, pos


def log_prob_numpy(module: NGramTable, ctx_keys: list[np.ndarray], target: np.ndarray):
    """:meth:`NGramTable.log_prob_from_keys` in numpy, for tables on the CPU."""
    vocab = module.vocab_size
    uniform = np.float32(1.0 / vocab)
    prob = np.full(len(target), uniform, dtype=np.float32)
    for k in range(1, module.order + 1):
        ctx_key = ctx_keys[k - 1]
        dense = module._dense(k)
        if dense is not None:
            seen_table, gamma_table, alpha_table = (t.numpy() for t in dense)
            seen = seen_table[ctx_key]
            if not seen.any():
                break
            a, g = alpha_table[ctx_key * vocab + target], gamma_table[ctx_key]
        else:
            ngram_keys, alpha, context_keys, gamma, _ = (t.numpy() for t in module.level(k))
            if len(context_keys) == 0 or len(ngram_keys) == 0:
                break
            # sorted queries walk the tables in order: several times faster than random ones
            key = ctx_key * vocab + target
            perm = np.argsort(key)
            key = key[perm]
            ctx_pos = np.empty_like(perm)
            ctx_pos[perm] = np.searchsorted(context_keys, key // vocab)
            pos = np.empty_like(perm)
            pos[perm] = np.searchsorted(ngram_keys, key)
            key[perm] = key.copy()
            ctx_pos = ctx_pos.clip(max=len(context_keys) - 1)
            seen = context_keys[ctx_pos] == ctx_key
            if not seen.any():
                break
            pos = pos.clip(max=len(ngram_keys) - 1)
            a = np.where(ngram_keys[pos] == key, alpha[pos], np.float32(0))
            g = gamma[ctx_pos]
        base = prob if module.interpolate else uniform
        prob = np.where(seen, a + g * base, prob).astype(np.float32, copy=False)
    with np.errstate(divide="ignore"):
        return np.log(prob)
