"""Shared fixtures: small slices of the bundled real corpora, tiny model settings.

``CHARZOO_TEST_DEVICE`` picks the device the test models use: ``cpu`` (the default, also on a
machine with a GPU, which is then hidden from torch so that ``device="auto"`` stays on the
CPU) or e.g. ``cuda`` (models built with the default ``device="auto"`` and with :data:`TINY`
go there). When that device is missing, every test is skipped with a message saying so.
"""

from __future__ import annotations

import os

DEVICE = os.environ.get("CHARZOO_TEST_DEVICE", "cpu").strip() or "cpu"
if DEVICE == "cpu":  # before torch initialises CUDA: "auto" must mean the CPU
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402
import torch  # noqa: E402

from charzoo.datasets import load_names, load_shakespeare, train_val_test_split  # noqa: E402

# Tiny test models gain nothing from intra-op threads; one thread avoids oversubscribing the
# two cores when tests run beside other work.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def names_split():
    """The documented names split (random_state=42): train, val, test."""
    return train_val_test_split(load_names(), random_state=42)


@pytest.fixture(scope="session")
def small_names(names_split):
    """2,000 training names and 300 test names: enough signal, fast to fit."""
    train, _, test = names_split
    return train[:2000], test[:300]


@pytest.fixture(scope="session")
def shakespeare_text():
    """The first 20,000 characters of tiny-shakespeare."""
    return load_shakespeare()[:20000]


def _device_problem() -> str | None:
    """Why the requested test device cannot be used, or None."""
    from charzoo.utils import check_device

    try:
        check_device(DEVICE, name="CHARZOO_TEST_DEVICE")
    except (ValueError, TypeError, RuntimeError) as exc:
        return f"{exc} (unset CHARZOO_TEST_DEVICE to test on the CPU)"
    return None


# Files whose tests spawn Python processes, build documentation or run the examples and
# benchmark scripts: marked ``slow``, so the fast tier for an edit-test loop,
# ``python -m pytest -m "not slow"``, leaves them out (single slow tests elsewhere carry
# ``@pytest.mark.slow``). CI runs everything.
SLOW_FILES = frozenset(
    {
        "test_accelerator_benchmark.py",
        "test_benchmarks_smoke.py",
        "test_device_selection.py",
        "test_distributed.py",
        "test_docs.py",
        "test_examples.py",
        "test_interrupts.py",
    }
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
    problem = _device_problem() if DEVICE != "cpu" else None
    if problem:
        skip = pytest.mark.skip(reason=problem)
        for item in items:
            item.add_marker(skip)


def pytest_report_header(config):
    return f"charzoo test device: {DEVICE} (set CHARZOO_TEST_DEVICE to change)"


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device test models run on (``CHARZOO_TEST_DEVICE``, default the CPU)."""
    return torch.device(DEVICE)


# keyword arguments that make any neural model train in well under a second (on the test
# device when one is requested)
TINY = {"max_steps": 60, "batch_size": 32, "random_state": 0}
if DEVICE != "cpu":
    TINY["device"] = DEVICE


# Tensor methods that read a value into Python: on a GPU each one waits for the device.
TENSOR_READS = ("item", "__bool__", "__float__", "__int__", "__index__", "tolist")


@pytest.fixture
def count_tensor_reads(monkeypatch):
    """``count(call, also=())`` runs ``call()`` and returns (number of tensor reads, result),
    counting :data:`TENSOR_READS` and the method names in ``also``."""

    def count(call, also=()):
        counts = {"n": 0}
        for name in (*TENSOR_READS, *also):
            original = getattr(torch.Tensor, name)

            def counting(self, *args, _original=original, **kwargs):
                counts["n"] += 1
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, counting)
        try:
            result = call()
        finally:
            monkeypatch.undo()
        return counts["n"], result

    return count
