"""Wall time of scaling out on 2 cores: dask grid search and torchrun data parallelism.

Usage: ``python benchmarks/scaling.py`` (a few minutes). Appends JSON lines to
``benchmarks/results/scaling.jsonl``:

- ``grid_search``: ``GridSearchCV(CharMLP, 4 settings, cv=3)`` serially (one process, torch
  using both cores) versus ``n_jobs=-1`` under ``joblib.parallel_backend("dask")`` on a
  ``LocalCluster`` of 2 single-threaded workers;
- ``ddp``: fitting ``CharMLP(n_hidden=512)`` on tiny-shakespeare (stream mode, global batch
  512) in 1 process versus 2 processes launched by ``torchrun`` (gloo).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import emit

GRID = {"block_size": [2, 3], "n_hidden": [100, 200]}
SEARCH_PARAMS = {"max_steps": 1500, "batch_size": 128, "random_state": 0}
DDP_PARAMS = {
    "block_size": 8,
    "n_embd": 24,
    "n_hidden": 512,
    "batch_size": 512,
    "max_steps": 300,
    "validation_fraction": 0.0,
    "random_state": 0,
}

FIT_SCRIPT = textwrap.dedent(
    f"""
    import os, sys, time
    import torch.distributed as dist
    from charzoo import CharMLP
    from charzoo.datasets import load_shakespeare

    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    start = time.perf_counter()
    model = CharMLP(**{DDP_PARAMS!r}).fit([load_shakespeare()])
    if not distributed or dist.get_rank() == 0:
        print("SECONDS", time.perf_counter() - start, model.score([load_shakespeare()[-20000:]]))
    if distributed:
        dist.destroy_process_group()
    """
)


def grid_search() -> None:
    import joblib
    from distributed import Client, LocalCluster
    from sklearn.model_selection import GridSearchCV

    from charzoo import CharMLP
    from charzoo.datasets import load_names
    from charzoo.metrics import perplexity_scorer

    names = load_names()

    def search(n_jobs: int) -> tuple[float, dict]:
        start = time.perf_counter()
        result = GridSearchCV(
            CharMLP(**SEARCH_PARAMS), GRID, scoring=perplexity_scorer, cv=3, n_jobs=n_jobs
        ).fit(names)
        return time.perf_counter() - start, result.best_params_

    serial_seconds, serial_best = search(1)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster), joblib.parallel_backend("dask"):
            dask_seconds, dask_best = search(-1)
    emit(
        {
            "benchmark": "grid_search",
            "fits": 4 * 3 + 1,
            "serial_seconds": serial_seconds,
            "dask_2_workers_seconds": dask_seconds,
            "speedup": serial_seconds / dask_seconds,
            "same_best_params": serial_best == dask_best,
            "best_params": serial_best,
        },
        "scaling",
    )


def ddp() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "fit.py"
        script.write_text(FIT_SCRIPT)
        runs = {
            "1_process": [sys.executable, str(script)],
            "2_processes": [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node=2",
                str(script),
            ],
        }
        record = {"benchmark": "ddp", "params": DDP_PARAMS}
        for name, cmd in runs.items():
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            line = next(x for x in out.splitlines() if x.startswith("SECONDS"))
            _, seconds, perplexity = line.split()
            record[f"{name}_seconds"] = float(seconds)
            record[f"{name}_perplexity"] = float(perplexity)
        record["speedup"] = record["1_process_seconds"] / record["2_processes_seconds"]
        emit(record, "scaling")


if __name__ == "__main__":
    grid_search()
    ddp()
