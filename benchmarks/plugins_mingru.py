"""Quality of the charzoo-mingru plugin on names: test NLL <= 2.00 in <= 10 min.

Usage (the plugin must be installed: ``pip install -e plugins/charzoo-mingru``)::

    flock /tmp/charzoo-bench.lock python benchmarks/plugins_mingru.py [--model minlstm]

Fits the model with its documented defaults on the names split (``random_state=42``; validation
on the val split, best weights kept), prints one JSON record (test NLL = ln perplexity, fit
seconds, parameters, generation speed) and appends it to
``benchmarks/results/plugins_mingru.jsonl``.
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import emit, fit_and_score, names_split

import charzoo

NAME = "plugins_mingru"
BAR_NLL, BAR_SECONDS = 2.00, 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mingru", choices=["mingru", "minlstm"])
    parser.add_argument("--max-steps", type=int, default=None, help="override the default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared 2-core "
        "machine two threads fighting for the cores are >10x slower)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, val, test = names_split()
    info = charzoo.model_info(args.model)
    params = {"random_state": args.seed}
    if args.max_steps:
        params["max_steps"] = args.max_steps
    model = charzoo.create_model(args.model, **params)
    record = fit_and_score(model, train, val, test, name=args.model, package=info.package)
    start = time.perf_counter()
    samples = model.generate(1000, random_state=0)
    record["generate_1000_seconds"] = time.perf_counter() - start
    record["samples"] = samples[:10]
    record["bar_nll"], record["bar_seconds"] = BAR_NLL, BAR_SECONDS
    record["passed"] = record["test_nll"] <= BAR_NLL and record["fit_seconds"] <= BAR_SECONDS
    emit(record, NAME)


if __name__ == "__main__":
    main()
