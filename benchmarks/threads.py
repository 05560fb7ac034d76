"""Training time with torch's default thread count against ``n_threads=1``, side by side.

A 1,000-step ``CharMLP`` on the names train split, alternating the two settings ``--reps``
times in the same run (so both see the same machine load), one JSON line per fit plus a
summary line with the median ratio. On an idle machine the two are close; on a machine busy
with other work the default (one thread per core) can be many times slower.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/threads.py [--reps 2] [--steps 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

from charzoo import CharMLP
from charzoo.datasets import load_names, train_val_test_split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args(argv)
    train = train_val_test_split(load_names(), random_state=42)[0]
    default_threads = torch.get_num_threads()
    times: dict[str, list[float]] = {"default": [], "1": []}
    for rep in range(args.reps):
        for label, n_threads in (("default", None), ("1", 1)):
            model = CharMLP(max_steps=args.steps, random_state=0, n_threads=n_threads)
            start = time.perf_counter()
            model.fit(train)
            seconds = time.perf_counter() - start
            times[label].append(seconds)
            record = {"rep": rep, "n_threads": n_threads, "torch_threads": default_threads,
                      "steps": args.steps, "fit_seconds": round(seconds, 2)}  # fmt: skip
            print(json.dumps(record), flush=True)
    summary = {
        "summary": "median fit seconds",
        "default": round(statistics.median(times["default"]), 2),
        "one_thread": round(statistics.median(times["1"]), 2),
        "ratio_default_over_one": round(
            statistics.median(times["default"]) / statistics.median(times["1"]), 2
        ),
        "load_average": os.getloadavg(),
        "cores": os.cpu_count(),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
