"""Train the pretrained models shipped in ``charzoo/pretrained_models/`` (deterministic).

Every model of :mod:`charzoo.pretrained` is trained from its recipe on the names train split
(``train_val_test_split(load_names(), random_state=42)``; the GRU keeps its best weights on
the validation split), with ``random_state=0`` and one torch thread, so a re-run writes the
same weights. Then each file is loaded back and its test perplexity printed as one JSON line.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/train_pretrained.py   # train and write
    python benchmarks/train_pretrained.py --check                          # only evaluate
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import charzoo
from charzoo.datasets import load_names, train_val_test_split
from charzoo.pretrained_models import _MODELS

OUT = Path(charzoo.__file__).resolve().parent / "pretrained_models"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="evaluate the shipped files only")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write (default {OUT})")
    parser.add_argument("names", nargs="*", help="models to train (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train, val, test = train_val_test_split(load_names(), random_state=42)
    for name in args.names or sorted(_MODELS):
        info = _MODELS[name]
        path = args.out / info.filename
        seconds = None
        if not args.check:
            start = time.perf_counter()
            model = charzoo.create_model(info.model, **info.params, random_state=0)
            cls_params = model.get_params()
            extra = {"validation_texts": val} if "validation_fraction" in cls_params else {}
            model.set_params(verbose=False)
            model.fit(train, **extra)
            seconds = round(time.perf_counter() - start, 1)
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
        model = charzoo.load(path)
        record = {
            "name": name,
            "model": type(model).__name__,
            "file": str(path.name),
            "bytes": path.stat().st_size,
            "test_perplexity": round(model.score(test), 4),
            "best_step": getattr(model, "best_step_", None),
            "fit_seconds": seconds,
            "samples": model.generate(5, random_state=0),
        }
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
