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
        "test_hostile.py",
        "test_interrupts.py",
    }
)


# Tests elsewhere that took a second or more (fitting real-size models, threads, benchmark
# smoke runs, kill -9 and Ctrl-C loops), by file and function name: also slow.
SLOW_TESTS = {
    "test_bad_input.py": {
        "test_generate_edge_cases",
        "test_neural_bigram_is_bit_reproducible_with_two_threads",
        "test_weird_unicode_fits_scores_and_generates",
    },
    "test_cli.py": {"test_fit_preset_device_threads_and_resume"},
    "test_core_api.py": {"test_grid_search_with_perplexity_scorer"},
    "test_datasets.py": {
        "test_load_python_source_budget_deterministic_and_split_by_file",
        "test_python_source_paths_sorted_unique_py_files",
        "test_scale_benchmark_smoke",
    },
    "test_encoded.py": {
        "test_fit_on_encoded_corpus_equals_fit_on_text",
        "test_validation_cost_is_bounded",
    },
    "test_files.py": {
        "test_ctrl_c_while_the_file_is_written_keeps_the_old_file",
        "test_kill_9_during_repeated_saves_never_leaves_a_corrupt_file",
    },
    "test_mingru_plugin.py": {"test_learns_names"},
    "test_mixture.py": {
        "test_benchmark_smoke_runs",
        "test_conformance_with_tiny_members",
        "test_parallel_fit_matches_sequential",
    },
    "test_ngram.py": {
        "test_counts_use_small_dtypes_on_python_source",
        "test_ranked_orders_equal_packed_orders",
        "test_scale_benchmark_smoke",
    },
    "test_packing.py": {"test_packed_fit_learns_as_well_and_reproduces"},
    "test_plotting.py": {"test_plot_history_writes_png_with_both_curves"},
    "test_precision.py": {
        "test_compile_works_or_warns_once",
        "test_reduced_precision_trains_on_cpu",
    },
    "test_presets.py": {"test_transformer_names_preset_fits_its_shape_on_names"},
    "test_pretrained.py": {
        "test_the_wheel_carries_the_models_data_and_the_command",
        "test_training_script_reproduces_the_ngram_file",
    },
    "test_properties.py": {"test_encode_decode_roundtrip_any_unicode"},
    "test_sequence_models.py": {"test_reproducible_with_random_state"},
    "test_template_plugin.py": {"test_learns_names_better_than_uniform_and_unigram"},
    "test_training.py": {
        "test_ema_decay_of_an_estimator",
        "test_host_reads_scale_with_evaluations_not_steps",
        "test_small_data_evaluates_every_epoch_and_stops_early",
    },
}


def _is_slow(item) -> bool:
    name = getattr(item, "originalname", item.name)
    return item.path.name in SLOW_FILES or name in SLOW_TESTS.get(item.path.name, ())


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _is_slow(item):
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
