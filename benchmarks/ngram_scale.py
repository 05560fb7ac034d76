"""CharNGram on big corpora: fit time, peak memory, held-out bits per character, scoring speed.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/ngram_scale.py                # 1, 10, 100 MB
    flock /tmp/charzoo-bench.lock python benchmarks/ngram_scale.py --gigabyte     # + 1 GB
    python benchmarks/ngram_scale.py --smoke                                      # CI: 0.2 MB

The corpus is :func:`charzoo.datasets.load_python_source` (``random_state=0``): Python files
of this installation, split 90/10 by file (nanoGPT style; the first 90% of the files train).
The 1 GB corpus repeats the training files of the whole installation (a few hundred MB) until
it holds 1 GB, so its distinct n-grams are those of the smaller corpus: it measures the cost
of counting, not of a bigger model. Each (implementation, size, order) runs in its own
subprocess, which reports its own peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``,
corpus loading included; ``rss_loaded_mb`` is the RSS once the corpus is loaded, before
fitting); ``counting_peak_mb`` is the traced peak of counting and smoothing alone (a second
``_fit_model`` on the encoded corpus, ``tracemalloc``), without the encoding done by
``CharLM.fit``. Characters of the test files never seen in training are dropped
(``handle_unknown="ignore"``).

``--ascii-only`` keeps only the files that are pure ASCII (a vocabulary of about 100
characters instead of thousands, so that order 7 fits int64 keys). ``--baseline REF`` runs
the same measurements with the CharNGram of git revision ``REF`` (default: the landed
``main``), extracted with ``git archive`` into a temporary folder (or a folder holding that
``charzoo`` package), side by side with this
tree, for sizes up to ``--baseline-max-mb`` (its counting needs about 108 bytes per
character). Results: one JSON line per run in ``benchmarks/results/ngram_scale.jsonl``
and a table in ``benchmarks/results/ngram_scale.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _tables import markdown_table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
NAME = "ngram_scale"
MB = 1_000_000


def child(size_mb: float, order: int, prune: int, repeat_to_mb: float | None, ascii_only: bool):
    """Load the corpus, fit, score; runs in a fresh process (peak RSS is this run's)."""
    import torch

    from charzoo.metrics import bits_per_char

    torch.set_num_threads(int(os.environ.get("NGRAM_THREADS", "2")))
    from charzoo import CharNGram

    try:
        from charzoo.datasets import load_python_source
    except ImportError:  # a landed revision without it: the loader of this tree
        import importlib.util

        path = ROOT / "charzoo" / "datasets" / "__init__.py"
        spec = importlib.util.spec_from_file_location("_ngram_scale_datasets", path)
        datasets = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(datasets)
        load_python_source = datasets.load_python_source

    budget = None if repeat_to_mb else int(size_mb * MB)
    if ascii_only:  # the ASCII files only: a small vocabulary, so that order 7 keys fit
        files, total = [], 0
        for text in load_python_source(max_bytes=None, random_state=0):
            if text.isascii() and (budget is None or total + len(text) <= budget):
                files.append(text)
                total += len(text)
    else:
        files = load_python_source(max_bytes=budget, random_state=0)
    cut = int(len(files) * 0.9)
    train, test = files[:cut], files[cut:]
    if repeat_to_mb:  # repeat the training files up to the requested size
        size = sum(map(len, train))
        train = train * max(1, math.ceil(repeat_to_mb * MB / size))
    n_train, n_test = sum(map(len, train)), sum(map(len, test))
    rss_loaded = _rss_mb()
    params = {"order": order, "handle_unknown": "ignore"}
    if prune:
        params["prune"] = prune
    model = CharNGram(**params)
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    rss_fit = _rss_mb()
    start = time.perf_counter()
    perplexity = model.score(test)
    score_seconds = time.perf_counter() - start
    counting_mb = None
    if hasattr(model, "_fit_model") and "prune" in model.get_params():  # this tree only
        import tracemalloc

        corpus = model._encode(train)  # the fit again, counting and smoothing alone
        tracemalloc.start()
        model._fit_model(corpus, None, torch.Generator())
        counting_mb = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()
        del corpus
    return {
        "order": order,
        "prune": prune,
        "train_chars": n_train,
        "test_chars": n_test,
        "n_files": len(files),
        "vocab_size": model.tokenizer_.vocab_size,
        "n_ngrams": model.n_ngrams_,
        "fit_seconds": fit_seconds,
        "fit_us_per_char": 1e6 * fit_seconds / n_train,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_fit_mb": rss_fit,
        "peak_rss_mb": _rss_mb(),
        "bytes_per_char": rss_fit * MB / n_train,
        "counting_peak_mb": counting_mb,  # tracemalloc peak of _fit_model on the encoded corpus
        "test_bits_per_char": bits_per_char(perplexity),
        "score_seconds": score_seconds,
        "score_chars_per_s": n_test / score_seconds,
        "threads": torch.get_num_threads(),
    }


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_child(args: list[str], pythonpath: Path, timeout: float) -> dict | None:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  timed out after {timeout:.0f} s: {' '.join(args)}", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"  failed ({done.returncode}): {done.stderr.strip()[-800:]}", file=sys.stderr)
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def landed_tree(ref: str, folder: Path) -> Path:
    """The charzoo package of git revision ``ref``, extracted into ``folder`` (or ``ref``
    itself when it is a folder holding a ``charzoo`` package)."""
    if (Path(ref) / "charzoo" / "__init__.py").is_file():
        return Path(ref)
    archive = subprocess.run(
        ["git", "archive", ref, "charzoo"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def write_markdown(records: list[dict], path: Path) -> None:
    lines = [
        "# CharNGram on Python source (benchmarks/ngram_scale.py)",
        "",
        "Peak RSS of the whole process (imports and corpus loading included); fit bytes/char ="
        " (peak RSS after fit - RSS once the corpus is loaded) / training characters, encoding"
        " by `CharLM.fit` included; counting MB: traced peak of counting and smoothing alone."
        " Timings on a shared, busy 2-core machine (noisy).",
        "",
    ]
    header = ["implementation", "corpus", "order", "prune", "train chars", "fit s", "us/char"]
    header += ["peak RSS MB", "fit bytes/char", "counting MB", "n-grams", "test bpc"]
    header += ["score chars/s"]
    rows = []
    for r in records:
        if "error" in r:
            error = f"error: {r['error'][:60]}"
            rows.append([r["implementation"], r["corpus"], r["order"], "", "", error])
            rows[-1] += [""] * (len(header) - len(rows[-1]))
            continue
        added = (r["peak_rss_fit_mb"] - r["rss_loaded_mb"]) * MB / r["train_chars"]
        rows.append(
            [r["implementation"], r["corpus"], r["order"], r["prune"], f"{r['train_chars']:,}",
             f"{r['fit_seconds']:.1f}", f"{r['fit_us_per_char']:.3f}",
             f"{r['peak_rss_fit_mb']:,.0f}", f"{added:.1f}",
             f"{r.get('counting_peak_mb') or float('nan'):,.0f}", f"{r['n_ngrams']:,}",
             f"{r['test_bits_per_char']:.4f}", f"{r['score_chars_per_s']:,.0f}"]
        )  # fmt: skip
    lines.append(markdown_table(header, rows))
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 100], help="MB")
    parser.add_argument("--orders", type=int, nargs="+", default=[5, 7])
    parser.add_argument("--prune", type=int, nargs="+", default=[0], help="prune values")
    parser.add_argument("--gigabyte", action="store_true", help="also 1 GB (repeated files)")
    parser.add_argument("--baseline", nargs="?", const="main", default=None, metavar="REF")
    parser.add_argument("--baseline-max-mb", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--smoke", action="store_true", help="0.2 MB, order 3, no files")
    parser.add_argument("--ascii-only", action="store_true", help="only the ASCII files")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        size, order, prune, repeat, ascii_only = args.child
        record = child(
            float(size), int(order), int(prune), float(repeat) or None, ascii_only == "1"
        )
        print(json.dumps(record))
        return 0
    runs = [(size, None) for size in args.sizes]
    if args.gigabyte:
        runs.append((1000, 1000))
    orders = args.orders
    if args.smoke:
        runs, orders = [(0.2, None)], [3]
    records = []
    with tempfile.TemporaryDirectory() as folder:
        trees = [("this tree", ROOT)]
        if args.baseline and not args.smoke:
            trees.append((f"landed ({args.baseline})", landed_tree(args.baseline, Path(folder))))
        for size, repeat in runs:
            for order in orders:
                for prune in args.prune:
                    for label, tree in trees:
                        if tree is not ROOT and (size > args.baseline_max_mb or prune):
                            continue
                        print(
                            f"{label}: {size:g} MB, order {order}, prune {prune}",
                            file=sys.stderr,
                            flush=True,
                        )
                        spec = [
                            str(size),
                            str(order),
                            str(prune),
                            str(repeat or 0),
                            str(int(args.ascii_only)),
                        ]
                        record = run_child(spec, tree, args.timeout)
                        if record is None:
                            continue
                        corpus = f"{size:g} MB" + (" (repeated)" if repeat else "")
                        corpus += " ASCII files" if args.ascii_only else ""
                        record = {
                            "implementation": label,
                            "corpus": corpus,
                            "order": order,
                            "prune": prune,
                            **record,
                        }
                        records.append(record)
                        print(json.dumps(record), flush=True)
    if args.smoke:
        bad = [r for r in records if "error" in r]
        return 1 if bad or not records else 0
    RESULTS.mkdir(exist_ok=True)
    stamp = {"date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv)}
    with open(RESULTS / f"{NAME}.jsonl", "a") as handle:
        for record in records:
            handle.write(json.dumps({**record, **stamp}) + "\n")
    latest: dict[tuple, dict] = {}  # the table shows the latest run of every configuration
    for line in (RESULTS / f"{NAME}.jsonl").read_text().splitlines():
        record = json.loads(line)
        latest[(record["implementation"], record["corpus"], record["order"], record["prune"])] = (
            record
        )
    write_markdown(list(latest.values()), RESULTS / f"{NAME}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
