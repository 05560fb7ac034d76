"""Helpers shared by the benchmark scripts: the names split, timing and result records."""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path

import torch
from _tables import markdown_table  # noqa: F401 - re-exported: the one table renderer

from charzoo import __version__
from charzoo.datasets import load_names, train_val_test_split
from charzoo.metrics import bits_per_char, nll_from_perplexity, perplexity_from_nll

RESULTS_DIR = Path(__file__).parent / "results"


def names_split() -> tuple[list[str], list[str], list[str]]:
    """The documented names split: train_val_test_split(load_names(), random_state=42)."""
    return train_val_test_split(load_names(), random_state=42)


def fit_and_score(model, train, val, test, **extra) -> dict:
    """Fit ``model`` (validation on ``val``), return a result record for ``test``."""
    start = time.perf_counter()
    model.fit(train, validation_texts=val) if _uses_validation(model) else model.fit(train)
    seconds = time.perf_counter() - start
    return {
        "model": type(model).__name__,
        "params": {k: v for k, v in model.get_params().items() if _plain(v)},
        **quality(perplexity=model.score(test)),
        "n_parameters": model.n_parameters_,
        "fit_seconds": seconds,
        "steps": getattr(model, "n_steps_", None),
        **extra,
    }


def quality(*, perplexity: float | None = None, nll: float | None = None) -> dict:
    """The quality fields of every record, from a perplexity or a mean NLL (nats/char):
    ``test_nll``, ``perplexity`` and ``bits_per_char``, converted by :mod:`charzoo.metrics`."""
    if perplexity is None:
        perplexity = perplexity_from_nll(nll)
    return {
        "test_nll": nll_from_perplexity(perplexity),
        "perplexity": perplexity,
        "bits_per_char": bits_per_char(perplexity),
    }


def _uses_validation(model) -> bool:
    return "validation_fraction" in model.get_params()


def _plain(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def emit(record: dict, name: str) -> None:
    """Print one JSON line and append it to results/<name>.jsonl with machine notes."""
    record = {
        **record,
        "charzoo": __version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    line = json.dumps(
        record, default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else str(v)
    )
    print(line, flush=True)
    RESULTS_DIR.mkdir(exist_ok=True)
    with open(RESULTS_DIR / f"{name}.jsonl", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
