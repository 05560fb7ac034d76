"""Small helpers: seeds, generators, devices, memory limits and thread counts."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from numbers import Integral

import numpy as np
import torch

__all__ = [
    "available_memory",
    "check_device",
    "widest",
    "make_generator",
    "parse_literal",
    "module_device",
    "resolve_device",
    "seed_from",
    "show_progress",
    "torch_threads",
    "uses_threads",
]

MAX_SEED = 2**32 - 1  # the range scikit-learn's ``random_state`` accepts at fit


def seed_from(random_state: object, name: str = "random_state") -> int:
    """Turn a ``random_state`` (None, int, numpy RandomState/Generator) into an int seed.

    ``None`` draws fresh entropy from the operating system; the global seeds of numpy and
    torch are never read or changed. An int must lie in ``[0, 2**32 - 1]`` (as at ``fit``).
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, Integral) and not isinstance(random_state, (bool, np.bool_)):
        if not 0 <= int(random_state) <= MAX_SEED:
            raise ValueError(
                f"{name} must be None, a numpy random generator or an int in "
                f"[0, 2**32 - 1], got {random_state!r}; pass a smaller seed"
            )
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    raise ValueError(
        f"{name} must be None, an int in [0, 2**32 - 1] or a numpy random generator, got "
        f"{random_state!r}"
    )


def make_generator(
    random_state: object, name: str = "random_state", device: torch.device | str = "cpu"
) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from ``random_state`` (see
    :func:`seed_from`)."""
    return torch.Generator(device=device).manual_seed(seed_from(random_state, name))


def _available(device: torch.device) -> str | None:
    """Why ``device`` cannot hold tensors on this machine, or None when it can."""
    kind = device.type
    if kind == "cpu":
        return None if device.index in (None, 0) else "the CPU has no index other than 0"
    if kind == "meta":
        return "the meta device holds no data (shapes only), so a model cannot train or score there"
    if kind == "cuda":
        if not torch.cuda.is_available():
            return "this machine has no CUDA GPU (or torch was built without CUDA)"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"this machine has {count} CUDA device(s) (cuda:0 .. cuda:{count - 1})"
        return None
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            return "the Apple MPS backend is not available on this machine"
        return None
    backend = getattr(torch, kind, None)
    is_available = getattr(backend, "is_available", None)
    if callable(is_available) and is_available():
        return None
    return f"torch has no usable {kind!r} backend on this machine"


def check_device(device: object, name: str = "device") -> torch.device:
    """The ``torch.device`` for a ``device`` parameter, or a ``ValueError`` naming the fix.

    ``"auto"`` picks CUDA when available, else the CPU. Any other value must name a device
    that exists on this machine.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        parsed = device
    elif isinstance(device, str):
        try:
            parsed = torch.device(device)
        except (RuntimeError, ValueError, TypeError):
            raise ValueError(
                f"{name}={device!r} is not a valid torch device; use 'auto', 'cpu', 'cuda' or "
                "'cuda:N'"
            ) from None
    else:
        raise TypeError(f"{name} must be a str such as 'cpu' or 'cuda', got {device!r}")
    problem = _available(parsed)
    if problem:
        raise ValueError(
            f"{name}={device!r} cannot be used: {problem}. Use device='auto' (CUDA when "
            "available, else the CPU) or device='cpu'."
        )
    return parsed


def resolve_device(device: str) -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; other values are checked by
    :func:`check_device`."""
    return check_device(device)


def fallback_device(device: object, what: str) -> torch.device:
    """The device for a loaded model: ``device`` when it is usable here, else the CPU with one
    warning naming the fallback (a model trained on a GPU loads on a CPU-only machine)."""
    try:
        return check_device(device)
    except (ValueError, TypeError) as exc:
        warnings.warn(
            f"{what} was saved with device={device!r}, which is not usable here "
            f"({str(exc).split(': ', 1)[-1].split('. Use')[0]}); it was put on the CPU. "
            "Pass device= to choose another device.",
            UserWarning,
            stacklevel=3,
        )
        return torch.device("cpu")


def available_memory(device: torch.device) -> int | None:
    """Bytes free for new tensors on ``device`` (None when unknown).

    The CPU figure is the smaller of the memory the kernel reports available
    (``MemAvailable``) and what the address-space limit of the process (``RLIMIT_AS``) leaves.
    """
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:  # noqa: BLE001 - no figure, no check
            return None
    if device.type != "cpu":
        return None
    figures = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    figures.append(int(line.split()[1]) * 1024)
    except OSError:
        try:
            figures.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            figures.append(max(0, int(soft) - _mapped_bytes()))
    except (ImportError, OSError, ValueError):
        pass
    return min(figures) if figures else None


def _mapped_bytes() -> int:
    """Virtual memory the process already maps (counts against ``RLIMIT_AS``)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


ACTIVATION_FLOATS = 2**26  # floats one scoring pass may create per layer output (256 MB)


def widest(module: torch.nn.Module) -> int:
    """The largest dimension of any parameter: a bound on the width of the activations.

    Scoring passes divide :data:`ACTIVATION_FLOATS` by it, so a model with ``n_embd=10**6``
    scores a few positions per pass instead of allocating gigabytes.
    """
    return max((max(p.shape) for p in module.parameters() if p.dim()), default=1)


def module_device(module: torch.nn.Module) -> torch.device:
    """Device of a module's first parameter or buffer (CPU for an empty module)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


@contextmanager
def torch_threads(
    n_threads: int | str | None, work: Callable[[], float | None] | None = None
) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(n_threads)``, then restore the old count.

    ``None`` leaves torch's setting alone; ``"auto"`` picks a count from ``work()`` (the size
    of a training step, None when unknown) and the free cores
    (:func:`charzoo.threads.auto_threads`). On a machine busy with other work, torch's
    default (one thread per core) can make training 10-20x slower than ``n_threads=1``,
    because its threads wait for each other on cores that other processes hold.

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
    token = None
    if isinstance(n_threads, str) and n_threads == "auto":
        from charzoo.threads import _cap, auto_threads

        token = _cap.set(_cap.get() or torch.get_num_threads())
        n_threads = auto_threads(work() if work is not None else None)
    if isinstance(n_threads, bool) or not isinstance(n_threads, Integral) or n_threads < 1:
        raise ValueError(
            f"n_threads must be 'auto', None or an int >= 1, got {n_threads!r}; use "
            "'auto' (the default), 1 on a busy machine, None for torch's default"
        )
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        if token is not None:
            from charzoo.threads import _cap

            _cap.reset(token)


def uses_threads(method: Callable) -> Callable:
    """Decorate an estimator method to run under :func:`torch_threads` of ``self.n_threads``
    (``"auto"`` sized by :func:`charzoo.threads.model_step_work`)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        from charzoo.threads import model_step_work

        with torch_threads(getattr(self, "n_threads", None), lambda: model_step_work(self)):
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


def parse_literal(raw: str) -> object:
    """A command-line value: a Python/JSON literal (3, 0.1, true, none, [1, 2]) or the string."""
    import ast

    text = raw.strip()
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"none", "null"}:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
