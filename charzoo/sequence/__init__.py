"""The sequence-model family: models that read a whole sequence and predict every next id.

A sequence module maps ids ``(B, T)`` and an optional state to logits ``(B, T, V)`` and the
new state::

    logits, state = module(idx, state=None)

The state summarises everything before ``idx``: the hidden state of a recurrent network, the
running sum of a bag of words, or the key/value cache of a Transformer. A module whose context
is bounded (the Transformer) sets ``module.block_size`` (inputs plus cached positions never
exceed it); unbounded modules set it to ``None``. A module that can read several texts per
row also accepts ``module(idx, packing=Packing(positions, segments))`` (the Transformer; its
estimator's ``_packs_documents()`` turns it on for document-mode training). This module
supplies, once for all such models:

- padded and masked document batches built from a :class:`~charzoo.data.Corpus` with tensor
  ops (each text's input starts from the boundary id, its targets end with the end marker),
  or packed ones (several texts per row, placed first fit, longest first);
- the training task: random documents (document mode), or random windows or consecutive
  ("adjacent") windows with the state carried and detached between steps (truncated
  back-propagation through time, stream mode);
- exact scoring in corpus order (padding is masked, so a padded batch scores exactly as the
  texts one by one; long streams carry the state over the whole text, or slide a half-overlapping
  window for bounded modules);
- an incremental decoder that keeps the state (hidden state or KV cache) batched over ``n``.
"""

from __future__ import annotations

import torch

from charzoo.base import CharLM
from charzoo.data import Corpus
from charzoo.neural import NeuralMixin
from charzoo.params import Options
from charzoo.sequence.batching import Packing, detach_state
from charzoo.sequence.decoding import FullContextDecoder, SequenceDecoder
from charzoo.sequence.scoring import sequence_nll
from charzoo.sequence.task import SequenceTask

__all__ = [
    "FullContextDecoder",
    "NeuralSequenceLM",
    "Packing",
    "SequenceDecoder",
    "SequenceLM",
    "SequenceTask",
    "detach_state",
    "sequence_nll",
]


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

    _parameter_constraints: dict = {"stream_sampling": [Options("random", "adjacent")]}
    _training_params = ("stream_sampling",)

    def __init__(self, *, stream_sampling: str = "random", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.stream_sampling = stream_sampling

    def _train_length(self) -> int:
        """Length of the stream-mode training windows (BPTT steps)."""
        return self.block_size

    def _steps_per_epoch(self, train: Corpus) -> float:
        """One text per row in document mode; ``_train_length()`` targets per row in a stream."""
        if train.mode == "stream":
            return len(train.targets) / (self.batch_size * self._train_length())
        return train.n_texts / self.batch_size

    def _packs_documents(self) -> bool:
        """Whether document-mode batches are packed several texts to a row (the module then
        accepts ``packing=``, see :class:`~charzoo.sequence.batching.Packing`)."""
        return False

    def _probe_batch(self, train: Corpus) -> torch.Tensor:
        longest = int(train.lengths.max()) if train.n_texts else 1
        width = max(1, min(self._train_length(), longest))
        rows = self.batch_size
        if self._packs_documents() and train.mode == "document":
            # packed rows are min(length, 2 * longest drawn) wide; when any two texts fit in
            # a row, first fit puts at least two in every row but the last
            if 2 * width <= self._train_length():
                rows, width = (rows + 1) // 2, 2 * width
            else:
                width = self._train_length()
        return torch.zeros((rows, width), dtype=torch.long, device="meta")

    def _probe_forward(self, module: torch.nn.Module, batch: torch.Tensor) -> object:
        if not self._packs_documents():
            return module(batch)
        positions = torch.arange(batch.shape[1], device=batch.device).expand(batch.shape)
        return module(batch, packing=Packing(positions, torch.zeros_like(batch)))

    def _training_task(
        self, train: Corpus, val: Corpus | None, generator: torch.Generator
    ) -> SequenceTask:
        return SequenceTask(
            train,
            val,
            self.batch_size,
            self._train_length(),
            self.stream_sampling,
            generator,
            pack=self._packs_documents(),
        )
