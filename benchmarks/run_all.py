"""Run the charzoo benchmark suite with one command.

Usage::

    python benchmarks/run_all.py --smoke                  # CI: every speed section, tiny, seconds
    flock /tmp/charzoo-bench.lock python benchmarks/run_all.py            # speed suite
    flock /tmp/charzoo-bench.lock python benchmarks/run_all.py --quality  # + quality scripts
    python benchmarks/run_all.py --list                   # what --quality would launch
    python benchmarks/run_all.py --accelerator            # + the GPU benchmark (needs CUDA)

The speed suite is :mod:`speed` (throughput, side-by-side baselines, peak memory; results in
``benchmarks/results/speed.jsonl``). ``--quality`` also launches the quality scripts one after
the other, each appending its JSON lines to its own ``benchmarks/results/<name>.jsonl``:
``core_models.py``, ``window_models.py``, ``sequence_models.py`` (names runs of every sequence
model and the tiny-shakespeare stream runs), ``scale.py`` (every built-in model on 1, 10 and
100 MB of Python source), ``mixture.py`` (mixtures of zoo models on names,
dinosaurs and Russian names; ``python benchmarks/mixture.py --smoke`` is its seconds-long
check), ``threads.py`` (torch's default thread count against one thread), ``scaling.py``
(dask grid search, torchrun data parallelism), ``dropout_speed.py`` (charzoo's CPU dropout
beside torch's, per layer and per training step), ``packing_speed.py`` (the Transformer's
packed document batches beside padded ones), ``private_dropout_speed.py`` (dropout from the
fit's own generator beside the fused kernels' dropout), ``hostile.py`` (the red-team
cases) and, when the plugin is installed, ``plugins_mingru.py``. Two scripts are tools,
not benchmarks, and run by hand: ``train_pretrained.py`` rebuilds the shipped pretrained models and
``quality_push.py`` tunes one configuration at a time (its table records every try). Quality
runs take tens of minutes; ``--only`` picks some of them. ``--accelerator`` also runs
``accelerator.py`` (charzoo on one GPU beside plain reference loops; it exits at once without
CUDA, and ``--smoke`` runs it at tiny sizes on the CPU).

Hold the shared lock around the whole command (as above), never inside it: the children run
under this process's lock, and a child taking the same lock again would wait for ever.
Extra arguments after ``--`` go to ``speed.py`` (e.g. ``-- --sections train --reps 3``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEQUENCE = ("rnn", "gru", "lstm", "transformer", "bow")


def quality_jobs() -> dict[str, list[str]]:
    """Name -> command of every quality run."""
    import charzoo

    jobs = {
        "core": ["core_models.py"],
        "window": ["window_models.py"],
        "sequence-names": ["sequence_models.py", "--runs", *(f"names-{m}" for m in SEQUENCE)],
        "sequence-shakespeare": [
            "sequence_models.py",
            "--runs",
            *(f"shakespeare-{m}" for m in ("rnn", "gru", "lstm", "transformer")),
        ],
        "scale": ["scale.py", "--steps", "20", "--held-out", "32768"],
        "ngram-reference": ["ngram_reference.py"],  # skips without KenLM/IRSTLM
        "ngram-scale": ["ngram_scale.py"],
        "threads": ["threads.py"],
        "scaling": ["scaling.py"],  # dask grid search and torchrun, needs the distributed extra
        "dropout-speed": ["dropout_speed.py"],
        "packing-speed": ["packing_speed.py"],
        "private-dropout-speed": ["private_dropout_speed.py"],
        "hostile": ["hostile.py", "--out", str(HERE / "results" / "hostile_latest.jsonl")],
    }
    jobs["mixture"] = ["mixture.py", "--corpus", "names", "dinos", "russian"]
    models = charzoo.list_models()
    for plugin in ("mingru", "minlstm"):
        if plugin in models:
            jobs[f"plugin-{plugin}"] = ["plugins_mingru.py", "--model", plugin]
    return jobs


def run(command: list[str]) -> int:
    print(f"$ python benchmarks/{' '.join(command)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    code = subprocess.call([sys.executable, str(HERE / command[0]), *command[1:]], cwd=HERE.parent)
    print(f"  exit {code} after {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny speed suite (seconds)")
    parser.add_argument("--quality", action="store_true", help="also run the quality scripts")
    parser.add_argument("--only", nargs="+", default=None, help="quality runs to launch")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed suite")
    parser.add_argument("--list", action="store_true", help="list the quality runs and exit")
    parser.add_argument("--accelerator", action="store_true", help="also run accelerator.py")
    args = parser.parse_args(argv)
    if args.list:
        for name, command in quality_jobs().items():
            print(f"{name}: python benchmarks/{' '.join(command)}")
        return 0
    failures = []
    if not args.no_speed:
        if run(["speed.py", *(["--smoke"] if args.smoke else []), *extra]):
            failures.append("speed")
    if args.accelerator:
        if run(["accelerator.py", *(["--smoke", "--no-compile"] if args.smoke else [])]):
            failures.append("accelerator")
    if args.quality and not args.smoke:
        jobs = quality_jobs()
        unknown = set(args.only or []) - set(jobs)
        if unknown:
            parser.error(f"unknown quality runs {sorted(unknown)}; known: {sorted(jobs)}")
        for name, command in jobs.items():
            if (args.only is None or name in args.only) and run(command):
                failures.append(name)
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
