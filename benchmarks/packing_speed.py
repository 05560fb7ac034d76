"""Packed document batches beside padded ones: the Transformer ``names`` preset, side by side.

Two sections, each printing JSON lines (appended to ``results/packing_speed.jsonl``):

* ``slots``: over many drawn batches of the names training split, the mean number of slots
  (rows x width) a padded batch and a packed batch spend on the same texts, and the fraction
  of those slots that hold a target.
* ``fit``: seconds per training step of ``CharTransformer.from_preset("names")`` with
  ``pack_documents=True`` (the preset) and ``False`` (the baseline), fits interleaved
  A B A B: a fit's wall time over its steps, so its setup and one evaluation are included.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/packing_speed.py   # about 3 minutes
    python benchmarks/packing_speed.py --smoke --results /tmp/smoke    # seconds
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import _common
import torch

from charzoo import CharTransformer
from charzoo.sequence import SequenceTask

NAME = "packing_speed"


def slots_section(train: list[str], batches: int) -> None:
    model = CharTransformer.from_preset("names", max_steps=1, verbose=0).fit(train)
    corpus = model._encode(train)
    record: dict = {"section": "slots", "batches": batches, "batch_size": model.batch_size}
    for pack in (False, True):
        task = SequenceTask(
            corpus, None, model.batch_size, model.block_size, "random",
            torch.Generator().manual_seed(0), pack=pack,
        )  # fmt: skip
        slots = targets = 0
        for _ in range(batches):
            _, y, _ = task._document_batch(model.module_)
            slots += y.numel()
            targets += int((y != -100).sum())
        key = "packed" if pack else "padded"
        record[f"{key}_slots_per_batch"] = slots / batches
        record[f"{key}_target_fraction"] = targets / slots
    record["slot_ratio"] = record["padded_slots_per_batch"] / record["packed_slots_per_batch"]
    _common.emit(record, NAME)


def _step_seconds(train: list[str], steps: int, pack: bool) -> float:
    model = CharTransformer.from_preset(
        "names",
        max_steps=steps,
        eval_interval=steps,
        pack_documents=pack,
        random_state=0,
        verbose=0,
    )
    start = time.perf_counter()
    model.fit(train)
    return (time.perf_counter() - start) / steps


def fit_section(train: list[str], steps: int, reps: int) -> None:
    times: dict[str, list[float]] = {"padded": [], "packed": []}
    for _ in range(reps):
        times["padded"].append(_step_seconds(train, steps, pack=False))
        times["packed"].append(_step_seconds(train, steps, pack=True))
    median = {k: statistics.median(v) for k, v in times.items()}
    _common.emit(
        {
            "section": "fit",
            "model": "CharTransformer.from_preset('names')",
            "threads": torch.get_num_threads(),
            "steps": steps,
            "step_seconds": median["packed"],
            "baseline": "pack_documents=False",
            "baseline_step_seconds": median["padded"],
            "speedup": median["padded"] / median["packed"],
            "all_step_seconds": times,
        },
        NAME,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument(
        "--results", type=Path, default=_common.RESULTS_DIR, help="folder of the .jsonl file"
    )
    args = parser.parse_args(argv)
    _common.RESULTS_DIR = args.results
    torch.set_num_threads(args.threads)
    train = _common.names_split()[0]
    if args.smoke:
        slots_section(train[:300], batches=3)
        fit_section(train[:200], steps=3, reps=1)
    else:
        slots_section(train, batches=500)
        fit_section(train, steps=300, reps=3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
