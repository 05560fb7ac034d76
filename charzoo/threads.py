"""How many torch CPU threads a model uses: ``n_threads="auto"`` (the default of every model).

torch starts one intra-op thread per core. That pays off only when one training step holds
enough arithmetic to split, and only while those cores are free: a small model's step is too
short to share out, and on a machine busy with other programs the threads wait for each other
on cores those programs hold (a 1,000-step ``CharMLP`` took 161-250 s instead of 12-20 s with
one thread). ``"auto"`` therefore picks

- **one thread** when a step's work (trainable parameters times predictions per step, see
  :func:`step_work`) is below :data:`AUTO_MIN_WORK`, as for ``CharMLP``, the bigrams and
  n-grams and the default ``CharWaveNet``;
- otherwise the **free cores** (:func:`free_cores`: the cores this process may run on minus
  the other runnable processes), at least one and at most torch's own setting (so
  ``torch.set_num_threads`` or ``OMP_NUM_THREADS`` still caps it).

The choice is made when ``fit`` has built the module, and again at every ``score``,
``score_samples`` and ``generate`` call; ``benchmarks/threads.py`` measures it against torch's
default and one thread, idle and beside two busy processes.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path

import torch

__all__ = [
    "AUTO_MIN_WORK",
    "auto_threads",
    "busy_cores",
    "free_cores",
    "model_step_work",
    "step_work",
    "usable_cores",
]

# parameters x predictions per step below which one thread is used: the default CharMLP is
# 1.5e6 (12k parameters, 128 windows), a default CharGRU step about 1e9
AUTO_MIN_WORK = 1e8

# torch's thread count before an "auto" call lowered it (the cap of a later choice in it)
_cap: ContextVar[int | None] = ContextVar("charzoo_thread_cap", default=None)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _running_now() -> int | None:
    """Runnable tasks on the machine at this instant (Linux ``/proc/stat``), or None."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("procs_running"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def busy_cores() -> float:
    """Cores held by other programs: the runnable tasks now, or the 1-minute load average,
    whichever is larger, less this process."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    running = _running_now()
    busy = max(load, running if running is not None else 0)
    return max(0.0, busy - 1)


def free_cores() -> int:
    """Usable cores not held by other programs (at least 1)."""
    return max(1, int(usable_cores() - busy_cores()))


def step_work(n_parameters: int, predictions: int) -> float:
    """The size of one training step: trainable parameters times predictions per step."""
    return float(n_parameters) * float(predictions)


def model_step_work(model: object) -> float | None:
    """:func:`step_work` of a fitted model's training step (None before ``fit``).

    A window model predicts ``batch_size`` characters per step; a sequence model (one with a
    ``_train_length``) ``batch_size`` times its training length, or times the longest text
    plus its end marker in document mode.
    """
    module = getattr(model, "module_", None)
    if not isinstance(module, torch.nn.Module):
        return None
    n_parameters = sum(p.numel() for p in module.parameters() if p.requires_grad)
    predictions = int(getattr(model, "batch_size", 1))
    train_length = getattr(model, "_train_length", None)
    if callable(train_length):
        width = int(train_length())
        if getattr(model, "mode_", None) == "document":
            width = min(width, int(getattr(model, "max_text_length_", width)) + 1)
        predictions *= width
    return step_work(n_parameters, predictions)


def auto_threads(work: float | None) -> int:
    """The thread count ``n_threads="auto"`` picks for a step of ``work`` (None: unknown).

    Examples
    --------
    >>> from charzoo.threads import auto_threads
    >>> auto_threads(12_000 * 128)  # the default CharMLP: one thread
    1
    """
    if work is None or work < AUTO_MIN_WORK:
        return 1
    return max(1, min(free_cores(), _cap.get() or torch.get_num_threads()))
