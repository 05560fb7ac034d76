"""Small helpers: seeds, generators, devices and thread counts."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from numbers import Integral

import numpy as np
import torch

__all__ = [
    "make_generator",
    "module_device",
    "resolve_device",
    "seed_from",
    "show_progress",
    "torch_threads",
    "uses_threads",
]


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


@contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(n_threads)``, then restore the old count.

    ``None`` leaves torch's setting alone. On a machine busy with other work, torch's default
    (one thread per core) can make training 10-20x slower than ``n_threads=1``, because its
    threads wait for each other on cores that other processes hold.

    Examples
    --------
    >>> import torch
    >>> from charzoo.utils import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n_threads is None:
        yield
        return
    if isinstance(n_threads, bool) or not isinstance(n_threads, Integral) or n_threads < 1:
        raise ValueError(
            f"n_threads must be None or an int >= 1, got {n_threads!r}; use n_threads=1 on a "
            "busy machine, None for torch's default"
        )
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def uses_threads(method: Callable) -> Callable:
    """Decorate an estimator method to run under :func:`torch_threads` of ``self.n_threads``."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with torch_threads(getattr(self, "n_threads", None)):
            return method(self, *args, **kwargs)

    return wrapper


def show_progress(verbose: bool | int | str) -> bool:
    """Whether ``verbose`` asks for a progress bar; ``"auto"``: in interactive use only.

    Interactive means stderr is a terminal or the code runs in a Jupyter kernel, so scripts,
    pipes, logs and test runs stay quiet by default.
    """
    if verbose == "auto":
        stderr = sys.stderr
        interactive = bool(getattr(stderr, "isatty", None) and stderr.isatty())
        return interactive or "ipykernel" in sys.modules
    return bool(verbose)
