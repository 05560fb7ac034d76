"""The window-model family: models that predict the next character from a fixed context.

A window module maps contexts ``(N, context_length)`` of ids to next-id logits ``(N, V)``
(count models may return log-probabilities, which are valid logits). A module that can give
the probability of one target more cheaply than the whole distribution (a count table) may
also define ``target_log_prob(context, target) -> (N,)``; scoring then uses it.

This module supplies, once for all such models: scoring over every target, the
rolling-context decoder for generation, and the training task that samples random windows
(as in the makemore lectures).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from charzoo.base import CharLM
from charzoo.data import Corpus, WindowData
from charzoo.distributed import shard
from charzoo.neural import NeuralMixin
from charzoo.tokenizer import BOUNDARY_ID
from charzoo.utils import ACTIVATION_FLOATS, module_device, widest

__all__ = ["NeuralWindowLM", "WindowLM", "window_nll"]

_WINDOWS_PER_FORWARD = 4096  # windows per forward pass: larger chunks fall out of the CPU caches
_DISTINCT_CHUNK = 65536  # windows searched together for repeated (context, target) pairs
# validation targets per evaluation during training: the first ones of the validation corpus
# (all of them for names and tiny-shakespeare; a bounded cost on a 100 MB stream)
_WINDOW_EVAL_TARGETS = 131072
_GATHER_IDS = 2**22  # at most this many context ids gathered at once (32 MB): huge block_size


@torch.no_grad()
def window_nll(module: torch.nn.Module, data: WindowData) -> torch.Tensor:
    """NLL of every target of ``data`` under ``module`` (eval mode), batched in chunks.

    Short texts repeat many (context, target) pairs (every text starts from the same
    padding), so a module's forward pass scores each distinct pair once and its NLL is copied
    to every occurrence (eval-mode modules score rows independently, so the result is the
    same); a ``target_log_prob`` lookup is as cheap as finding the repeats and sees every row.
    """
    device = module_device(module)
    target_log_prob = getattr(module, "target_log_prob", None)
    out = torch.empty(len(data), dtype=torch.float32)
    rows = max(1, min(_DISTINCT_CHUNK, _GATHER_IDS // max(1, data.block_size)))
    for start in range(0, len(data), rows):
        stop = min(start + rows, len(data))
        x, y = data.batch(torch.arange(start, stop))
        if target_log_prob is not None:  # memory O(rows): no smaller chunks needed
            out[start:stop] = -target_log_prob(x.to(device), y.to(device)).float().cpu()
            continue
        pairs, inverse = _distinct_pairs(torch.cat([x, y[:, None]], dim=1))
        nll = torch.empty(len(pairs), dtype=torch.float32)
        # a huge n_embd/n_hidden: fewer windows per forward pass
        wide = ACTIVATION_FLOATS // (widest(module) * max(1, data.block_size))
        step = max(1, min(_WINDOWS_PER_FORWARD, rows, wide))
        for first in range(0, len(pairs), step):
            chunk = pairs[first : first + step].to(device)
            logits = module(chunk[:, :-1]).float()
            nll[first : first + len(chunk)] = F.cross_entropy(
                logits, chunk[:, -1], reduction="none"
            ).cpu()
        out[start:stop] = nll if inverse is None else nll[inverse]
    return out


def _distinct_pairs(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The distinct rows of an id matrix and, for each row, the index of its distinct row
    (``None`` when the rows are kept as they are: too few repeats, or ids too large to pack
    a row into one int64 key)."""
    base = int(rows.max()) + 1 if rows.numel() else 1
    if rows.shape[1] * math.log2(max(base, 2)) >= 62:
        return rows, None
    weights = base ** torch.arange(rows.shape[1] - 1, -1, -1, dtype=torch.long)
    # numpy's unique is about 3x faster than torch's on CPU for a few thousand keys
    keys, first, inverse = np.unique(
        (rows * weights).sum(1).numpy(), return_index=True, return_inverse=True
    )
    if len(keys) > 0.9 * len(rows):  # not worth the gather
        return rows, None
    return rows[torch.from_numpy(first)], torch.from_numpy(inverse.reshape(-1))


class WindowDecoder:
    """Rolling fixed-length context: each step costs one module call on ``(n, block)`` ids."""

    def __init__(self, module: torch.nn.Module, context_length: int) -> None:
        self.module = module
        self.context_length = context_length
        self.context: torch.Tensor | None = None

    def start(self, prefix: torch.Tensor, n: int) -> torch.Tensor:
        pad = torch.full((self.context_length,), BOUNDARY_ID, dtype=torch.long)
        context = torch.cat([pad, prefix])[-self.context_length :]
        self.context = context.to(module_device(self.module)).repeat(n, 1)
        return self.module(self.context)

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens.to(self.context.device)  # tokens may come from the host
        self.context = torch.cat([self.context[:, 1:], tokens[:, None]], dim=1)
        return self.module(self.context)

    def select(self, index: torch.Tensor) -> None:
        self.context = self.context[index.to(self.context.device)]


class WindowTask:
    """Training task: random minibatches of (context, next id) pairs from all windows.

    Each evaluation scores at most the first ``_WINDOW_EVAL_TARGETS`` (131,072) validation targets,
    so its cost does not grow with the corpus.
    """

    def __init__(
        self,
        train: WindowData,
        val: WindowData | None,
        batch_size: int,
        generator: torch.Generator,
    ) -> None:
        self.train, self.val = train, val
        self.data: WindowData | None = None  # the training windows on the module's device
        self.batch_size = batch_size
        self.generator = generator

    def train_loss(self, module: torch.nn.Module) -> torch.Tensor:
        device = module_device(module)
        if self.data is None or self.data.targets.device != device:
            self.data = self.train.to(device)  # once per fit (a no-op on the CPU)
        index = torch.randint(len(self.train), (self.batch_size,), generator=self.generator)
        index = shard(index)  # this rank's part of the global batch when data-parallel
        x, y = self.data.batch(index.to(device, non_blocking=True))  # gathered there
        return F.cross_entropy(module(x), y)

    def eval_loss(self, module: torch.nn.Module) -> float | None:
        if self.val is None or len(self.val) == 0:
            return None
        return float(window_nll(module, self.val).double().mean())


class WindowLM(CharLM):
    """Base of the window models: next-character prediction from the previous characters.

    Subclasses set the context length through :meth:`_context_length` (default
    ``self.block_size``) and build a module mapping ``(N, context_length)`` ids to ``(N, V)``
    logits.
    """

    def _context_length(self) -> int:
        return self.block_size

    def _window_data(self, corpus: Corpus) -> WindowData:
        return WindowData(corpus, self._context_length())

    def _token_nll(self, corpus: Corpus) -> torch.Tensor:
        self.module_.eval()
        return window_nll(self.module_, self._window_data(corpus))

    def _decoder(self) -> WindowDecoder:
        return WindowDecoder(self.module_, self._context_length())


class NeuralWindowLM(NeuralMixin, WindowLM):
    """Window models trained by gradient descent on random windows (see :class:`NeuralMixin`)."""

    def _probe_batch(self, train: Corpus) -> torch.Tensor:
        return torch.zeros(
            (self.batch_size, self._context_length()), dtype=torch.long, device="meta"
        )

    def _training_task(
        self, train: Corpus, val: Corpus | None, generator: torch.Generator
    ) -> WindowTask:
        return WindowTask(
            self._window_data(train),
            self._window_data(val.head(_WINDOW_EVAL_TARGETS)) if val is not None else None,
            self.batch_size,
            generator,
        )
