"""The sequence-model family: models that read a whole sequence and predict every next id.

A sequence module maps ids ``(B, T)`` and an optional state to logits ``(B, T, V)`` and the
new state::

    logits, state = module(idx, state=None)

The state summarises everything before ``idx``: the hidden state of a recurrent network, the
running sum of a bag of words, or the key/value cache of a Transformer. A module whose context
is bounded (the Transformer) sets ``module.block_size`` (inputs plus cached positions never
exceed it); unbounded modules set it to ``None``. This module supplies, once for all such
models:

- padded and masked document batches built from a :class:`~charzoo.data.Corpus` with tensor
  ops (each text's input starts from the boundary id, its targets end with the end marker);
- the training task: random documents (document mode), or random windows or consecutive
  ("adjacent") windows with the state carried and detached between steps (truncated
  back-propagation through time, stream mode);
- exact scoring in corpus order (padding is masked, so a padded batch scores exactly as the
  texts one by one; long streams carry the state over the whole text, or slide a half-overlapping
  window for bounded modules);
- an incremental decoder that keeps the state (hidden state or KV cache) batched over ``n``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import StrOptions

from charzoo.base import CharLM
from charzoo.data import Corpus
from charzoo.distributed import shard
from charzoo.neural import NeuralMixin
from charzoo.tokenizer import BOUNDARY_ID
from charzoo.utils import ACTIVATION_FLOATS, module_device, widest

__all__ = [
    "FullContextDecoder",
    "NeuralSequenceLM",
    "SequenceDecoder",
    "SequenceLM",
    "SequenceTask",
    "detach_state",
    "sequence_nll",
]

# ids per scoring forward pass: small enough for the activations to stay in cache (65536
# ran 2-2.5x slower than 4096 for the GRU, RNN, BoW and Transformer on CPU, see issue 6)
_SCORE_TOKENS = 4096
_SCORE_CHUNK = 1024  # time steps per forward pass when a long text carries its state
_EVAL_TOKENS = 32768  # validation targets per evaluation during training
_EVAL_SEGMENT = 2048  # stream validation is scored in pieces of this length side by side
_IGNORE = -100


def detach_state(state: object) -> object:
    """Detach every tensor of a (nested tuple/list) state from the autograd graph."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


def _block_size(module: torch.nn.Module) -> int | None:
    return getattr(module, "block_size", None)


def _inputs_at(
    corpus: Corpus, pos: torch.Tensor, starts: torch.Tensor | None = None
) -> torch.Tensor:
    """Input ids (int64) at flat target positions ``pos``: the previous target of the same
    text, or the boundary id at a text's first target. Gathered per batch, so no shifted copy
    of the corpus is ever made."""
    prev = corpus.targets[(pos - 1).clamp(min=0)].long()
    starts = corpus.starts if starts is None else starts
    if len(starts) == 1:
        return prev.masked_fill_(pos == 0, BOUNDARY_ID)
    text = (torch.searchsorted(starts, pos, right=True) - 1).clamp(min=0)
    return prev.masked_fill_(starts[text] == pos, BOUNDARY_ID)


def _padded(
    corpus: Corpus,
    index: torch.Tensor,
    offsets: torch.Tensor | None = None,
    starts: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``(B, T)``, targets ``(B, T)`` (padding = -100) and flat target positions of the
    texts ``index`` (from ``offsets`` into each text, default 0), right-padded to the longest."""
    starts = corpus.starts if starts is None else starts
    lengths = corpus.lengths[index]
    if offsets is not None:
        lengths = lengths - offsets
    width = max(1, int(lengths.max()))
    inner = torch.arange(width) + (offsets[:, None] if offsets is not None else 0)
    pos = starts[index][:, None] + inner
    mask = torch.arange(width) < lengths[:, None]
    pos = torch.where(mask, pos, 0)
    previous = corpus.targets[(pos - 1).clamp(min=0)].long()
    x = torch.where(mask & (inner > 0), previous, BOUNDARY_ID)
    y = torch.where(mask, corpus.targets[pos].long(), _IGNORE)
    return x, y, pos


def _chunks(n_items: int, sizes: torch.Tensor, budget: int) -> Iterator[slice]:
    """Consecutive slices of items sorted by ascending ``sizes`` with ``rows * max <= budget``."""
    i = 0
    while i < n_items:
        j = min(n_items, i + max(1, budget // max(1, int(sizes[i]))))
        while j > i + 1 and (j - i) * int(sizes[j - 1]) > budget:
            j = i + max(1, budget // max(1, int(sizes[j - 1])))
        yield slice(i, j)
        i = j


@torch.no_grad()
def sequence_nll(module: torch.nn.Module, corpus: Corpus) -> torch.Tensor:
    """NLL of every target of ``corpus`` under ``module`` (eval mode), in corpus order.

    Texts are sorted by length and scored in padded batches; an unbounded module carries its
    state over long texts in chunks of time steps, a bounded one (``block_size``) slides a
    window with stride ``block_size // 2`` over texts longer than its context, so every
    target sees at least half a block of context.
    """
    device = module_device(module)
    out = torch.zeros(len(corpus.targets), dtype=torch.float32)
    if len(out) == 0:
        return out
    block = _block_size(module)
    order = torch.argsort(corpus.lengths, stable=True)
    order = order[corpus.lengths[order] > 0]
    long = order[corpus.lengths[order] > block] if block else order[:0]
    short = order[corpus.lengths[order] <= block] if block else order
    tokens = max(1, min(_SCORE_TOKENS, ACTIVATION_FLOATS // widest(module)))  # huge widths
    for part in _chunks(len(short), corpus.lengths[short], tokens):
        x, y, pos = _padded(corpus, short[part])
        state = None
        for t in range(0, x.shape[1], _SCORE_CHUNK):
            logits, state = module(x[:, t : t + _SCORE_CHUNK].to(device), state)
            yc = y[:, t : t + _SCORE_CHUNK].to(device)
            nll = F.cross_entropy(logits.float().transpose(1, 2), yc, reduction="none").cpu()
            keep = yc.cpu() != _IGNORE
            out[pos[:, t : t + _SCORE_CHUNK][keep]] = nll[keep]
    for text in long.tolist():
        _score_windows(module, corpus, text, block, out)
    return out


def _score_windows(
    module: torch.nn.Module,
    corpus: Corpus,
    text: int,
    block: int,
    out: torch.Tensor,
) -> None:
    """Score one text longer than ``block`` with half-overlapping windows."""
    device = module_device(module)
    length, begin = int(corpus.lengths[text]), int(corpus.starts[text])
    stride = max(1, block // 2)
    starts = torch.arange(0, length - block + stride, stride).clamp(max=length - block).unique()
    # a window counts the targets after the end of the previous window
    first_counted = torch.cat([torch.zeros(1, dtype=torch.long), starts[:-1] + block]) - starts
    offsets = torch.arange(block)
    rows = max(1, min(_SCORE_TOKENS, ACTIVATION_FLOATS // widest(module)) // block)
    for i in range(0, len(starts), rows):
        s = starts[i : i + rows]
        pos = begin + s[:, None] + offsets
        inputs = corpus.targets[(pos - 1).clamp(min=0)].long()
        inputs[pos == begin] = BOUNDARY_ID  # the text's first target
        logits, _ = module(inputs.to(device))
        nll = F.cross_entropy(
            logits.float().transpose(1, 2), corpus.targets[pos].long().to(device), reduction="none"
        ).cpu()
        keep = offsets >= first_counted[i : i + rows, None]
        out[pos[keep]] = nll[keep]


class SequenceDecoder:
    """Incremental decoding with the module state (hidden state or KV cache), batched over n.

    Each step feeds one id per row and the state, so a step costs O(1) (recurrent) or
    O(context) (attention over the cache). A bounded module whose cache fills its
    ``block_size`` is re-primed on the last half block, like the scoring windows.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.block = _block_size(module)
        self.state: object = None
        self.history: torch.Tensor | None = None
        self.length = 0

    def _run(self, ids: torch.Tensor, state: object) -> torch.Tensor:
        logits, self.state = self.module(ids, state)
        return logits[:, -1]

    def start(self, prefix: torch.Tensor, n: int) -> torch.Tensor:
        ids = torch.cat([torch.tensor([BOUNDARY_ID]), prefix.long()])
        ids = ids.to(module_device(self.module)).repeat(n, 1)
        if self.block:
            ids = ids[:, -self.block :]
            self.history = ids
        self.length = ids.shape[1]
        logits = self._run(ids, None)
        self.batch_dims = None
        if n > 1:  # find each state tensor's batch dimension: the one that changes with n
            _, probe = self.module(ids[:1], None)
            self.batch_dims = _batch_dims(self.state, probe)
        return logits

    def select(self, index: torch.Tensor) -> None:
        """Keep only the rows ``index`` (:func:`~charzoo.sampler.sample` drops ended rows)."""
        if self.history is not None:
            self.history = self.history[index]
        self.state = _select_rows(self.state, self.batch_dims, index)

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens[:, None]
        if not self.block:
            return self._run(tokens, self.state)
        self.history = torch.cat([self.history, tokens], dim=1)[:, -self.block :]
        if self.length + 1 > self.block:
            keep = max(1, self.block - self.block // 2)
            self.length = keep
            return self._run(self.history[:, -keep:], None)
        self.length += 1
        return self._run(tokens, self.state)


class FullContextDecoder:
    """The straightforward decoder: every step recomputes the module over the whole context
    (the last ``block_size`` ids for a bounded module). Slow; a reference for tests and
    benchmarks of :class:`SequenceDecoder`."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.block = _block_size(module)
        self.history: torch.Tensor | None = None

    def _run(self) -> torch.Tensor:
        ids = self.history[:, -self.block :] if self.block else self.history
        return self.module(ids)[0][:, -1]

    def start(self, prefix: torch.Tensor, n: int) -> torch.Tensor:
        ids = torch.cat([torch.tensor([BOUNDARY_ID]), prefix.long()])
        self.history = ids.to(module_device(self.module)).repeat(n, 1)
        return self._run()

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        self.history = torch.cat([self.history, tokens[:, None]], dim=1)
        return self._run()

    def select(self, index: torch.Tensor) -> None:
        self.history = self.history[index]


def _batch_dims(state: object, probe: object) -> object:
    """For each tensor of a (nested) state of n rows, the dimension that is 1 in the state of
    one row ``probe``, or None when the tensor does not depend on the rows."""
    if isinstance(state, torch.Tensor):
        if state.dim() != probe.dim():
            return None
        dims = [d for d in range(state.dim()) if state.shape[d] != probe.shape[d]]
        return dims[0] if dims else None
    if isinstance(state, (tuple, list)):
        return [_batch_dims(s, p) for s, p in zip(state, probe)]
    return None


def _select_rows(state: object, dims: object, index: torch.Tensor) -> object:
    """The rows ``index`` of every tensor of a (nested) state along its batch dimension."""
    if isinstance(state, torch.Tensor):
        return state if dims is None else state.index_select(dims, index.to(state.device))
    if isinstance(state, (tuple, list)):
        return type(state)(_select_rows(s, d, index) for s, d in zip(state, dims))
    return state


def _validation_view(corpus: Corpus) -> Corpus:
    """At most ``_EVAL_TOKENS`` targets of a validation corpus, for cheap evaluation during
    training. A stream is cut into ``_EVAL_SEGMENT``-long pieces scored side by side (each
    restarting from the boundary id) instead of one long sequential pass."""
    n = min(len(corpus.targets), _EVAL_TOKENS)
    if corpus.mode == "stream":
        lengths = torch.full((n // _EVAL_SEGMENT,), _EVAL_SEGMENT, dtype=torch.long)
        if n % _EVAL_SEGMENT:
            lengths = torch.cat([lengths, torch.tensor([n % _EVAL_SEGMENT])])
        return Corpus(corpus.targets[:n], lengths, corpus.mode)
    return corpus.head(n)


class SequenceTask:
    """Training task of the sequence family.

    Document mode draws ``batch_size`` random texts as one padded, masked batch (a text longer
    than ``length`` — the Transformer's ``block_size``, the recurrent models' ``seq_length`` —
    is cropped at a random offset). Stream mode draws
    windows of ``length`` ids: ``"random"`` windows start anywhere; ``"adjacent"`` windows
    split the stream into ``batch_size`` rows that each continue where they stopped, with
    the state carried and detached between steps (truncated BPTT; bounded modules restart
    their context at each window).
    """

    def __init__(
        self,
        train: Corpus,
        val: Corpus | None,
        batch_size: int,
        length: int,
        stream_sampling: str,
        generator: torch.Generator,
    ) -> None:
        self.train, self.batch_size, self.generator = train, batch_size, generator
        self.val = _validation_view(val) if val is not None and len(val.targets) else None
        self.length = length
        self.sampling = stream_sampling
        self.starts = train.starts
        self.state: object = None
        self.column = 0
        self.rows: tuple[torch.Tensor, int] | None = None
        if train.mode == "stream":
            self.length = max(1, min(length, len(train.targets) - 1))
            if stream_sampling == "adjacent":
                width = len(train.targets) // batch_size
                if width < 2:
                    raise ValueError(
                        f"the stream ({len(train.targets)} characters) is too short for "
                        f"batch_size={batch_size} adjacent rows; lower batch_size"
                    )
                # row r is the stream's r-th slice of ``width`` targets (this rank's rows)
                self.rows = (shard(torch.arange(batch_size) * width), width)

    def _document_batch(self, module: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(self.train.n_texts, (self.batch_size,), generator=self.generator)
        crop = self.length  # longer texts: a random window (truncated BPTT for recurrent models)
        excess = (self.train.lengths[index] - crop).clamp(min=0)
        offsets = (torch.rand(len(index), generator=self.generator) * (excess + 1)).long()
        offsets, index = shard(offsets), shard(index)  # this rank's part when data-parallel
        x, y, _ = _padded(self.train, index, offsets, self.starts)
        return x[:, :crop], y[:, :crop]

    def _random_windows(self) -> tuple[torch.Tensor, torch.Tensor]:
        high = len(self.train.targets) - self.length + 1
        pos = shard(torch.randint(high, (self.batch_size, 1), generator=self.generator))
        pos = pos + torch.arange(self.length)
        return _inputs_at(self.train, pos, self.starts), self.train.targets[pos].long()

    def _adjacent_windows(self) -> tuple[torch.Tensor, torch.Tensor]:
        row_starts, width = self.rows
        if self.column + 1 >= width:  # wrap around: new pass, random phase
            self.column = int(torch.randint(self.length, (1,), generator=self.generator))
            self.column = min(self.column, width - 2)
            self.state = None
        cols = torch.arange(self.column, min(self.column + self.length, width))
        self.column += self.length
        pos = row_starts[:, None] + cols
        return _inputs_at(self.train, pos, self.starts), self.train.targets[pos].long()

    def train_loss(self, module: torch.nn.Module) -> torch.Tensor:
        device = module_device(module)
        state = None
        if self.train.mode == "document":
            x, y = self._document_batch(module)
        elif self.sampling == "random":
            x, y = self._random_windows()
        else:
            x, y = self._adjacent_windows()
            state = None if _block_size(module) else self.state
        logits, new_state = module(x.to(device), state)
        if self.train.mode == "stream" and self.sampling == "adjacent":
            self.state = detach_state(new_state)
        return F.cross_entropy(
            logits.transpose(1, 2), y.to(device), ignore_index=_IGNORE, reduction="mean"
        )

    def eval_loss(self, module: torch.nn.Module) -> float | None:
        if self.val is None:
            return None
        return float(sequence_nll(module, self.val).double().mean())


class SequenceLM(CharLM):
    """Base of the sequence models: a module reads ids ``(B, T)`` and returns next-id logits
    ``(B, T, V)`` and its state (see the module docstring of :mod:`charzoo.sequence`)."""

    def _token_nll(self, corpus: Corpus) -> torch.Tensor:
        self.module_.eval()
        return sequence_nll(self.module_, corpus)

    def _decoder(self) -> SequenceDecoder:
        return SequenceDecoder(self.module_)


class NeuralSequenceLM(NeuralMixin, SequenceLM):
    """Sequence models trained by gradient descent (see :class:`NeuralMixin`).

    Parameters
    ----------
    stream_sampling : {"random", "adjacent"}, default="random"
        Stream mode only: draw training windows at random positions, or as consecutive
        windows per batch row with the state carried and detached between steps (truncated
        back-propagation through time, as in char-rnn).
    **kwargs
        Training parameters of :class:`charzoo.neural.NeuralMixin` and common parameters of
        :class:`charzoo.base.CharLM`.
    """

    _parameter_constraints: dict = {"stream_sampling": [StrOptions({"random", "adjacent"})]}

    def __init__(self, *, stream_sampling: str = "random", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.stream_sampling = stream_sampling

    def _train_length(self) -> int:
        """Length of the stream-mode training windows (BPTT steps)."""
        return self.block_size

    def _probe_batch(self, train: Corpus) -> torch.Tensor:
        longest = int(train.lengths.max()) if train.n_texts else 1
        width = max(1, min(self._train_length(), longest))
        return torch.zeros((self.batch_size, width), dtype=torch.long, device="meta")

    def _training_task(
        self, train: Corpus, val: Corpus | None, generator: torch.Generator
    ) -> SequenceTask:
        return SequenceTask(
            train, val, self.batch_size, self._train_length(), self.stream_sampling, generator
        )
