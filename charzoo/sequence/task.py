"""The training task of the sequence family: random documents, or random or adjacent
stream windows (truncated back-propagation through time), and the validation loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charzoo.data import Corpus
from charzoo.distributed import shard
from charzoo.sequence.batching import (
    _EVAL_SEGMENT,
    _IGNORE,
    _SEQUENCE_EVAL_TARGETS,
    Packing,
    _block_size,
    _inputs_at,
    _packed,
    _padded,
    detach_state,
)
from charzoo.sequence.scoring import sequence_nll
from charzoo.utils import module_device


def _validation_view(corpus: Corpus) -> Corpus:
    """At most ``_SEQUENCE_EVAL_TARGETS`` targets of a validation corpus, for cheap evaluation
    during training. A stream is cut into ``_EVAL_SEGMENT``-long pieces scored side by side (each
    restarting from the boundary id) instead of one long sequential pass."""
    n = min(len(corpus.targets), _SEQUENCE_EVAL_TARGETS)
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
    is cropped at a random offset). With ``pack=True`` the drawn texts are packed several to
    a row (:func:`~charzoo.sequence.batching._packed`, rows twice as long as the longest text
    drawn, at most ``length``) and the module is called with ``packing=``: the same texts
    and the same loss in fewer slots. Stream mode draws
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
        pack: bool = False,
    ) -> None:
        self.train, self.batch_size, self.generator = train, batch_size, generator
        self.pack = pack
        self.val = _validation_view(val) if val is not None and len(val.targets) else None
        self.length = length
        self.sampling = stream_sampling
        self.starts = train.starts
        self.state: object = None
        self.column = 0
        self.rows: tuple[torch.Tensor, int] | None = None
        self.device: torch.device | None = None
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
        self._place(torch.device("cpu"))  # until the first step names the module's device

    def _place(self, device: torch.device) -> None:
        """Copy the training ids to ``device`` (once per fit; a no-op on the CPU). Random
        draws stay on the host generator (the same stream on every device); only the drawn
        indices travel, without waiting for the device (``non_blocking``: a copy from pageable
        memory is staged at once), and the batches are gathered on the device."""
        if device == self.device:
            return
        self.device = device
        self.data = Corpus(
            self.train.targets.to(device), self.train.lengths.to(device), self.train.mode
        )
        self.data_starts = self.starts.to(device)
        self.host_lengths = self.train.lengths.numpy()
        if self.rows is not None:
            self.data_rows = self.rows[0].to(device)

    def _document_batch(
        self, module: torch.nn.Module
    ) -> tuple[torch.Tensor, torch.Tensor, Packing | None]:
        index = torch.randint(self.train.n_texts, (self.batch_size,), generator=self.generator)
        crop = self.length  # longer texts: a random window (truncated BPTT for recurrent models)
        excess = (self.train.lengths[index] - crop).clamp(min=0)
        offsets = (torch.rand(len(index), generator=self.generator) * (excess + 1)).long()
        offsets, index = shard(offsets), shard(index)  # this rank's part when data-parallel
        # the batch width from the host copies of the draws (numpy: no device read)
        lengths = (self.host_lengths[index.numpy()] - offsets.numpy()).clip(max=crop)
        longest = max(1, int(lengths.max()))
        index, offsets = (t.to(self.device, non_blocking=True) for t in (index, offsets))
        if self.pack:
            width = min(crop, 2 * longest)
            return _packed(self.data, index, offsets, self.data_starts, lengths, width)
        x, y, _ = _padded(self.data, index, offsets, self.data_starts, longest)
        return x, y, None

    def _random_windows(self) -> tuple[torch.Tensor, torch.Tensor]:
        high = len(self.train.targets) - self.length + 1
        pos = shard(torch.randint(high, (self.batch_size, 1), generator=self.generator))
        pos = pos.to(self.device, non_blocking=True) + torch.arange(self.length, device=self.device)
        return _inputs_at(self.data, pos, self.data_starts), self.data.targets[pos].long()

    def _adjacent_windows(self) -> tuple[torch.Tensor, torch.Tensor]:
        _, width = self.rows
        if self.column + 1 >= width:  # wrap around: new pass, random phase
            self.column = int(torch.randint(self.length, (1,), generator=self.generator))
            self.column = min(self.column, width - 2)
            self.state = None
        end = min(self.column + self.length, width)
        cols = torch.arange(self.column, end, device=self.device)
        self.column += self.length
        pos = self.data_rows[:, None] + cols
        return _inputs_at(self.data, pos, self.data_starts), self.data.targets[pos].long()

    def train_loss(self, module: torch.nn.Module) -> torch.Tensor:
        device = module_device(module)
        self._place(device)
        state, packing = None, None
        if self.train.mode == "document":
            x, y, packing = self._document_batch(module)
        elif self.sampling == "random":
            x, y = self._random_windows()
        else:
            x, y = self._adjacent_windows()
            state = None if _block_size(module) else self.state
        if packing is None:
            logits, new_state = module(x.to(device), state)
        else:
            logits, new_state = module(x, state, packing=packing)
        if self.train.mode == "stream" and self.sampling == "adjacent":
            self.state = detach_state(new_state)
        return F.cross_entropy(
            logits.transpose(1, 2), y.to(device), ignore_index=_IGNORE, reduction="mean"
        )

    def eval_loss(self, module: torch.nn.Module) -> float | None:
        if self.val is None:
            return None
        return float(sequence_nll(module, self.val).double().mean())
