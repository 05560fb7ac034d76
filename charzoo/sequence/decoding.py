"""Incremental decoding for generation: the state (hidden state or KV cache) batched over
the rows, and the full-recomputation reference."""

from __future__ import annotations

import torch

from charzoo.sequence.batching import _block_size
from charzoo.tokenizer import BOUNDARY_ID
from charzoo.utils import module_device


class SequenceDecoder:
    """Incremental decoding with the module state (hidden state or KV cache), batched over n.

    Each step feeds one id per row and the state, so a step costs O(1) (recurrent) or
    O(context) (attention over the cache). A bounded module whose cache fills its
    ``block_size`` is re-primed on the last half block, like the scoring windows.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.device = module_device(module)  # tokens and row indices may come from the host
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
        index = index.to(self.device)
        if self.history is not None:
            self.history = self.history[index]
        self.state = _select_rows(self.state, self.batch_dims, index)

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens.to(self.device)[:, None]
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
        self.history = torch.cat([self.history, tokens.to(self.history.device)[:, None]], dim=1)
        return self._run()

    def select(self, index: torch.Tensor) -> None:
        self.history = self.history[index.to(self.history.device)]


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
