"""Small helpers: seeds, generators and devices."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch

__all__ = ["make_generator", "module_device", "resolve_device", "seed_from"]


def seed_from(random_state: object) -> int:
    """Turn a ``random_state`` (None, int, numpy RandomState/Generator) into an int seed.

    ``None`` draws fresh entropy from the operating system; the global seeds of numpy and
    torch are never read or changed.
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    raise ValueError(
        f"random_state must be None, an int or a numpy random generator, got {random_state!r}"
    )


def make_generator(random_state: object) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``random_state`` (see :func:`seed_from`)."""
    return torch.Generator().manual_seed(seed_from(random_state))


def resolve_device(device: str) -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; other values go to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device {device!r} is not a valid torch device: {exc}") from None


def module_device(module: torch.nn.Module) -> torch.device:
    """Device of a module's first parameter or buffer (CPU for an empty module)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")
