"""CPU dropout: ``charzoo.layers.Dropout`` beside ``torch.nn.Dropout``, side by side.

Two sections, each printing JSON lines (appended to ``results/dropout_speed.jsonl``):

* ``layer``: forward + backward of one dropout layer on activations of the shapes the names
  presets train on, the two implementations interleaved, median seconds per call, and the
  fraction of elements each keeps (both should be ``1 - p``).
* ``fit``: seconds per training step of ``CharTransformer.from_preset("names")`` (with padded
  batches of 128, ``pack_documents=False, batch_size=128``) with each
  implementation (torch's is patched in for the baseline), fits interleaved A B A B: a
  fit's wall time over its steps, so its setup and one evaluation are included.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/dropout_speed.py   # about 3 minutes
    python benchmarks/dropout_speed.py --smoke --results /tmp/smoke    # seconds
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import _common
import torch

from charzoo import CharTransformer
from charzoo.layers import Dropout

NAME = "dropout_speed"


@contextmanager
def torch_dropout():
    """Make ``charzoo.layers.Dropout`` behave as ``torch.nn.Dropout`` (the baseline)."""
    forward = Dropout.forward
    Dropout.forward = torch.nn.Dropout.forward
    try:
        yield
    finally:
        Dropout.forward = forward


def _call_seconds(layer: torch.nn.Module, shape: tuple, calls: int) -> float:
    x = torch.randn(shape, requires_grad=True)
    grad = torch.ones(shape)
    start = time.perf_counter()
    for _ in range(calls):
        layer(x).backward(grad)
    return (time.perf_counter() - start) / calls


def layer_section(shapes: list[tuple], p: float, calls: int, reps: int) -> None:
    for shape in shapes:
        layer = Dropout(p).train()
        times: dict[str, list[float]] = {"torch": [], "charzoo": []}
        for _ in range(reps):
            with torch_dropout():
                times["torch"].append(_call_seconds(layer, shape, calls))
            times["charzoo"].append(_call_seconds(layer, shape, calls))
        ones = torch.ones(shape)
        kept = float((layer(ones) != 0).float().mean())
        with torch_dropout():
            baseline_kept = float((layer(ones) != 0).float().mean())
        median = {k: statistics.median(v) for k, v in times.items()}
        _common.emit(
            {
                "section": "layer",
                "shape": list(shape),
                "p": p,
                "seconds": median["charzoo"],
                "baseline": "torch.nn.Dropout",
                "baseline_seconds": median["torch"],
                "speedup": median["torch"] / median["charzoo"],
                "kept_fraction": kept,
                "baseline_kept_fraction": baseline_kept,
            },
            NAME,
        )


def _step_seconds(train: list[str], steps: int) -> float:
    model = CharTransformer.from_preset(
        "names",
        max_steps=steps,
        eval_interval=steps,
        pack_documents=False,  # the padded batches of 128 its figures were measured on
        batch_size=128,
        random_state=0,
        verbose=0,
    )
    start = time.perf_counter()
    model.fit(train)
    return (time.perf_counter() - start) / steps


def fit_section(steps: int, reps: int, n_texts: int | None) -> None:
    train = _common.names_split()[0][:n_texts]
    times: dict[str, list[float]] = {"torch": [], "charzoo": []}
    for _ in range(reps):
        with torch_dropout():
            times["torch"].append(_step_seconds(train, steps))
        times["charzoo"].append(_step_seconds(train, steps))
    median = {k: statistics.median(v) for k, v in times.items()}
    _common.emit(
        {
            "section": "fit",
            "model": "CharTransformer.from_preset('names')",
            "steps": steps,
            "step_seconds": median["charzoo"],
            "baseline": "torch.nn.Dropout",
            "baseline_step_seconds": median["torch"],
            "speedup": median["torch"] / median["charzoo"],
            "all_step_seconds": times,
        },
        NAME,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument(
        "--results", type=Path, default=_common.RESULTS_DIR, help="folder of the .jsonl file"
    )
    args = parser.parse_args(argv)
    _common.RESULTS_DIR = args.results
    if args.smoke:
        layer_section([(8, 16, 32)], p=0.15, calls=5, reps=1)
        fit_section(steps=3, reps=1, n_texts=200)
    else:
        shapes = [(128, 16, 112), (128, 16, 448), (128, 16, 64), (128, 16, 256)]
        layer_section(shapes, p=0.15, calls=200, reps=5)
        fit_section(steps=300, reps=3, n_texts=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
