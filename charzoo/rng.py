"""Private randomness: every random number a fit draws comes from the model's own generators.

:meth:`charzoo.base.CharLM.fit` runs its training under :func:`private_randomness`, which

- makes :func:`current_generator` return the fit's generators (one per device, all derived
  from the fit's seed), which :class:`charzoo.layers.Dropout` and the transformer's attention
  dropout draw their masks from;
- and, while :func:`private_init` is active (around building a module), hands that generator
  to every random torch call that was given none (``nn.init.*``, ``Tensor.uniform_``,
  ``torch.randn``, ... through a thread-local ``TorchFunctionMode``).

Torch's global generator is neither read nor written, so two fits with one ``random_state``
in two threads (or under joblib's threading backend) give bit-identical models. Plugin authors:
build modules in ``_build_module`` (called inside :func:`private_init`) and use
:class:`charzoo.layers.Dropout` (not ``torch.nn.Dropout``) for dropout, or draw any other
training-time random numbers with ``generator=current_generator(device)``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["current_generator", "private_init", "private_randomness"]

_local = threading.local()

# random torch calls that take a ``generator=`` keyword
_RANDOM = {
    *(getattr(torch, n) for n in ("rand", "randn", "randint", "randperm", "normal")),
    *(getattr(torch, n) for n in ("bernoulli", "multinomial", "poisson")),
    *(getattr(torch, n) for n in ("rand_like", "randn_like", "randint_like")),
    *(
        getattr(torch.Tensor, n)
        for n in (
            "uniform_",
            "normal_",
            "bernoulli_",
            "random_",
            "exponential_",
            "geometric_",
            "cauchy_",
            "log_normal_",
            "bernoulli",
            "multinomial",
        )
    ),
}
_FACTORIES = {torch.rand, torch.randn, torch.randint, torch.randperm}


class _Generators:
    """The generators of one fit: a CPU one seeded with the fit's seed, and one per other
    device, seeded from it on first use."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.by_device = {"cpu": torch.Generator().manual_seed(seed)}

    def get(self, device: torch.device | str | None) -> torch.Generator:
        device = torch.device("cpu" if device is None else device)
        key = str(device)
        if key not in self.by_device:
            self.by_device[key] = torch.Generator(device=device).manual_seed(self.seed + 1)
        return self.by_device[key]


def _device_of(func: object, args: tuple, kwargs: dict) -> object:
    if func in _FACTORIES:
        return kwargs.get("device")
    first = args[0] if args else kwargs.get("input")
    return first.device if isinstance(first, torch.Tensor) else kwargs.get("device")


_TAKES: dict = {}


def _takes_generator(func: object) -> bool:
    """Whether ``func`` draws random numbers and takes ``generator=``: the torch calls above,
    and Python functions with a ``generator`` parameter (``torch.nn.init.*``, whose inner
    calls the mode does not see)."""
    if func in _RANDOM:
        return True
    try:
        return _TAKES[func]
    except (KeyError, TypeError):
        pass
    try:
        takes = "generator" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        takes = False
    try:
        _TAKES[func] = takes
    except TypeError:
        pass
    return takes


class _InjectGenerator(TorchFunctionMode):
    """Give the private generator to every random call without one (this thread only)."""

    def __init__(self, generators: _Generators) -> None:
        super().__init__()
        self.generators = generators

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if _takes_generator(func) and kwargs.get("generator") is None:
            device = torch.device(_device_of(func, args, kwargs) or "cpu")
            if device.type != "meta":  # shapes only: nothing is drawn
                kwargs["generator"] = self.generators.get(device)
        return func(*args, **kwargs)


@contextmanager
def private_randomness(seed: int) -> Iterator[None]:
    """Make :func:`current_generator` return generators seeded with ``seed`` in this thread.

    Parameters
    ----------
    seed : int
        The fit's seed (see :func:`charzoo.utils.seed_from`).
    """
    previous = getattr(_local, "generators", None)
    _local.generators = _Generators(seed)
    try:
        yield
    finally:
        _local.generators = previous


def current_generator(device: torch.device | str | None = None) -> torch.Generator | None:
    """The private generator for ``device`` of the fit running in this thread, or None
    outside a fit (torch's global generator is then used, as by ``torch.nn.Dropout``)."""
    generators = getattr(_local, "generators", None)
    return None if generators is None else generators.get(device)


@contextmanager
def private_init() -> Iterator[None]:
    """Inside a fit: random torch calls without a generator draw from the fit's CPU
    generator (module initialisation). Outside a fit: no effect."""
    generators = getattr(_local, "generators", None)
    if generators is None:
        yield
        return
    with _InjectGenerator(generators):
        yield
