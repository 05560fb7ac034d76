"""Data-parallel training on ``torch.distributed`` (gloo on CPU, launched with ``torchrun``).

When a process group is initialised, every rank draws the same global batch (same seed),
keeps its shard ``index[rank::world_size]``, and gradients and losses are averaged across ranks
before each optimiser step. All ranks therefore take identical steps, and the result equals
single-process training with the same global batch up to floating-point summation order.
Models with BatchNorm normalise per shard, so they are not bit-for-bit comparable.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

__all__ = ["average_gradients", "average_loss", "is_distributed", "is_main_process", "shard"]


def is_distributed() -> bool:
    """True inside an initialised ``torch.distributed`` process group with several ranks."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    """True on rank 0, or when not running distributed (the rank that should save files)."""
    return not is_distributed() or dist.get_rank() == 0


def shard(index: torch.Tensor) -> torch.Tensor:
    """This rank's share of a global batch of example indices."""
    if not is_distributed():
        return index
    return index[dist.get_rank() :: dist.get_world_size()]


def average_loss(loss: float | torch.Tensor) -> float:
    """Mean of a scalar loss over ranks (so every rank takes the same stop decisions).

    A tensor is reduced on its own device and read once (the one host round-trip)."""
    if not is_distributed():
        return float(loss)
    if isinstance(loss, torch.Tensor):
        value = loss.detach().to(torch.float64).reshape(1).clone()
    else:
        value = torch.tensor([loss], dtype=torch.float64)
    dist.all_reduce(value)
    return float(value) / dist.get_world_size()


def average_gradients(module: torch.nn.Module) -> None:
    """All-reduce and average the gradients of ``module`` in one flat buffer."""
    if not is_distributed():
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
