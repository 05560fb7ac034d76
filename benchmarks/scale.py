"""How each cost grows with the corpus: every built-in model on 1, 10 and 100 MB of Python source.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/scale.py            # 1, 10, 100 MB (~30 min)
    python benchmarks/scale.py --smoke --out /tmp/scale.jsonl          # CI: 0.2 MB, 3 steps
    python benchmarks/scale.py --sizes 1 10 --models gru ngram --input czb

The corpus is :func:`charzoo.datasets.load_python_source` (``random_state=0``: a seeded mix of
the standard library and the installed packages), split 90/10 *by file* (nanoGPT style); the
training files are joined with newlines into one stream, and the first ``--held-out`` characters
of the joined held-out files are scored. By default every character outside ASCII is replaced by
``?`` (``--unicode`` keeps them): the vocabulary is then the same at every size (the distinct
characters of Python source grow from about 1,000 at 1 MB to 5,000 at 100 MB, and the output
layers with them), so the step times compare the data path alone. Its contents depend on what is
installed: each record holds a fingerprint (file count, bytes, sha256 of the path list).

Each (model, size) runs in its own subprocess with the library's default hyperparameters except
``max_steps=--steps`` (evaluation once, at the end; the default validation split of the
training stream) and ``handle_unknown="ignore"``. Recorded per run:

- ``read_seconds``: reading the source files (not the model's cost);
- ``data_setup_seconds``: from ``fit`` to the first training step (vocabulary, encoding,
  validation split, batch views; for ``--input czb`` mapping the ``.czb`` file written before,
  whose encoding time is ``encode_seconds``); count models report their whole ``fit_seconds``;
- ``step_seconds``: median time of one training step (forward, backward, AdamW), over all
  steps but the last (which also evaluates);
- ``peak_rss_mb``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child after ``fit``
  and ``score``, its peak reset just before ``fit`` (``peak_reset``: through
  ``/proc/self/clear_refs``; the peak while reading the files is ``load_peak_rss_mb``), so
  it is the peak of fit and score; ``rss_before_fit_mb`` (resident size just before ``fit``:
  Python, torch and the corpus text), ``fit_added_mb = peak - before`` and
  ``model_state_mb`` (weights, gradients and the two AdamW moments: 16 bytes per parameter;
  tables of count models count as weights);
- ``bits_per_char`` on the held-out characters and ``score_chars_per_s``.

Results: ``benchmarks/results/scale.jsonl`` (appended) and ``benchmarks/results/scale.md``
(the table of the latest full run). The machine is shared: timings are noisy, which the median
step time and the load average (``loadavg``) recorded with each run help to judge.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _tables import markdown_table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def builtin_models() -> list[str]:
    """The registered models that ship with charzoo (plugins excluded)."""
    import charzoo

    return [n for n in charzoo.list_models() if charzoo.model_info(n).package == "charzoo"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _reset_peak_rss() -> bool:
    """Reset the process's peak resident size to its current size (Linux >= 4.0:
    ``/proc/self/clear_refs``); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def corpus(mb: float, unicode: bool) -> tuple[str, str, dict]:
    """Training stream, held-out stream and the fingerprint of the selection."""
    from charzoo.datasets import load_python_source

    texts, paths = load_python_source(max_bytes=int(mb * 1e6), random_state=0, return_paths=True)
    cut = int(0.9 * len(texts))
    train, held = "\n".join(texts[:cut]), "\n".join(texts[cut:])
    if not unicode:
        train = train.encode("ascii", "replace").decode("ascii")
        held = held.encode("ascii", "replace").decode("ascii")
    digest = hashlib.sha256("\n".join(paths).encode("utf-8")).hexdigest()[:16]
    fingerprint = {
        "n_files": len(paths),
        "n_bytes": sum(len(t.encode("utf-8")) for t in texts),
        "paths_sha256": digest,
        "python": platform.python_version(),
    }
    return train, held, fingerprint


def child(args: argparse.Namespace) -> dict:
    """One (model, size) run, in this process; returns its record."""
    import torch

    import charzoo
    import charzoo.neural
    from charzoo.callbacks import Callback
    from charzoo.encoded import write_encoded
    from charzoo.metrics import bits_per_char

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    train, held, fingerprint = corpus(args.size, args.unicode)
    read_seconds = time.perf_counter() - start
    held = held[: args.held_out]
    model = charzoo.create_model(args.model, handle_unknown="ignore", random_state=0)
    neural = "max_steps" in model.get_params()
    if neural:
        model.set_params(max_steps=args.steps, eval_interval=args.steps)
    data, encode_seconds = [train], None
    if args.input == "czb":
        start = time.perf_counter()
        data = write_encoded(train, Path(args.tmp) / "train.czb")
        encode_seconds = time.perf_counter() - start
        del train
    marks: dict[str, list[float]] = {"steps": []}

    class Timer(Callback):
        def on_train_begin(self, trainer):
            marks["train_start"] = time.perf_counter()

        def on_step_end(self, trainer, step, loss):
            marks["steps"].append(time.perf_counter())

    if neural:
        model.set_params(callbacks=[Timer()])
    load_peak = _peak_rss_mb()  # reading and joining the files
    gc.collect()
    peak_reset = _reset_peak_rss()  # from here on the peak is that of fit and score
    rss_before = _rss_mb()
    fit_start = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - fit_start
    steps = marks["steps"]
    ends = [marks.get("train_start"), *steps]  # each step's duration, start to end
    intervals = sorted(b - a for a, b in zip(ends, ends[1:]))
    start = time.perf_counter()
    perplexity = model.score([held])
    score_seconds = time.perf_counter() - start
    peak = _peak_rss_mb()
    n_state = sum(t.numel() * t.element_size() for t in model.module_.state_dict().values())
    n_params = sum(p.numel() for p in model.module_.parameters() if p.requires_grad)
    return {
        "model": args.model,
        "class": type(model).__name__,
        "size_mb": args.size,
        "input": args.input,
        "alphabet": "unicode" if args.unicode else "ascii",
        "corpus": fingerprint,
        "vocab_size": model.tokenizer_.vocab_size,
        "train_chars": len(data) if args.input == "czb" else len(data[0]),
        "n_parameters": n_params,
        "read_seconds": read_seconds,
        "encode_seconds": encode_seconds,
        "fit_seconds": fit_seconds,
        "data_setup_seconds": marks["train_start"] - fit_start if neural else fit_seconds,
        "steps": len(steps) if neural else None,
        "step_seconds": intervals[len(intervals) // 2] if intervals else None,
        "peak_rss_mb": peak,
        "load_peak_rss_mb": load_peak,
        "peak_reset": peak_reset,
        "rss_before_fit_mb": rss_before,
        "fit_added_mb": peak - rss_before,
        "model_state_mb": (n_state + 12 * n_params) / 2**20,
        "held_out_chars": len(held),
        "bits_per_char": bits_per_char(perplexity),
        "score_seconds": score_seconds,
        "score_chars_per_s": len(held) / score_seconds,
        "threads": args.threads,
        "loadavg": os.getloadavg()[0],
    }


def draw_times(sizes: list[float], models: list[str], reps: int, unicode: bool) -> list[dict]:
    """Median time to draw one training batch from each corpus size, the sizes interleaved in
    one process (machine load hits every size alike): the only per-step cost that could
    depend on the corpus."""
    import torch

    import charzoo
    from charzoo.data import encode_corpus, fit_tokenizer

    streams = {size: corpus(size, unicode)[0] for size in sizes}
    tokenizer = fit_tokenizer([streams[max(sizes)]])
    encoded = {size: encode_corpus(tokenizer, [s], "stream") for size, s in streams.items()}
    del streams
    records = []
    for name in models:
        model = charzoo.create_model(name)
        if "max_steps" not in model.get_params():
            continue  # count models take no steps
        tasks = {
            size: model._training_task(c, None, torch.Generator().manual_seed(0))
            for size, c in encoded.items()
        }
        times: dict[float, list[float]] = {size: [] for size in sizes}
        for _ in range(reps):
            for size, task in tasks.items():
                start = time.perf_counter()
                if hasattr(task, "_random_windows"):
                    task._random_windows()
                else:
                    index = torch.randint(len(task.train), (task.batch_size,))
                    task.train.batch(index)
                times[size].append(time.perf_counter() - start)
        median = {size: sorted(t)[len(t) // 2] for size, t in times.items()}
        records.append(
            {
                "model": name,
                "section": "batch_draw",
                "median_us": {f"{size:g}": 1e6 * m for size, m in median.items()},
                "ratio_largest_smallest": median[max(sizes)] / median[min(sizes)],
                "reps": reps,
                "loadavg": os.getloadavg()[0],
            }
        )
    return records


def launch(model: str, size: float, args: argparse.Namespace) -> dict:
    """Run one (model, size) in a fresh interpreter and return its record (or the error)."""
    command = [
        sys.executable,
        __file__,
        "--child",
        model,
        "--size",
        str(size),
        "--steps",
        str(args.steps),
        "--held-out",
        str(args.held_out),
        "--threads",
        str(args.threads),
        "--input",
        args.input,
        *(["--unicode"] if args.unicode else []),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [*command, "--tmp", tmp], capture_output=True, text=True, env=env, timeout=args.timeout
        )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        return {"model": model, "size_mb": size, "error": tail[0], "returncode": proc.returncode}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def markdown(records: list[dict]) -> str:
    """The results table of ``records`` (one row each)."""
    first = next((r for r in records if "corpus" in r), {})
    commands = sorted({r["command"] for r in records if "command" in r and "section" not in r})
    lines = [
        "# Scale: every built-in model on 1, 10 and 100 MB of Python source",
        "",
        "Commands: " + "; ".join(f"`flock /tmp/charzoo-bench.lock {c}`" for c in commands),
        "(written by `benchmarks/scale.py`; raw records in `scale.jsonl`).",
        f"Machine: {platform.machine()}, 2 cores shared with other jobs (load average in the "
        "last column: timings are noisy), torch threads per run: "
        f"{first.get('threads', '?')}. Alphabet: {first.get('alphabet', '?')}. Input: `text` "
        "= `fit([train_stream])`, `czb` = `fit(EncodedCorpus(...))` on the stream written to a "
        ".czb file before (its encoding time is not in data setup).",
        "",
        "Columns: data setup = `fit` until the first training step (count models: whole fit); "
        "step = median seconds per training step; peak RSS = the peak of `fit` and `score` "
        "(the process's peak reset just before `fit`), or, marked `*`, the whole process's "
        "peak including reading and joining the source files (runs without the reset: an "
        "upper bound); added = peak minus the resident size before `fit` (Python, torch and "
        "the corpus text); model = weights, gradients and AdamW moments; bpc = held-out bits "
        "per character; score = held-out characters scored per second.",
        "",
    ]
    header = ["model", "MB", "input", "files", "vocab", "data setup s", "step s", "peak RSS MB"]
    header += ["added MB", "model MB", "bpc", "score char/s", "load"]
    draws = [r for r in records if r.get("section") == "batch_draw"]
    records = [r for r in records if r.get("section") != "batch_draw"]
    rows = []
    for r in records:
        if "error" in r:
            rows.append([r["model"], r["size_mb"], f"error: {r['error']}"])
            rows[-1] += [""] * (len(header) - len(rows[-1]))
            continue
        mark = "" if r.get("peak_reset") else "*"
        rows.append(
            [r["model"], f"{r['size_mb']:g}", r["input"], r["corpus"]["n_files"], r["vocab_size"],
             _fmt(r["data_setup_seconds"], ".2f"), _fmt(r["step_seconds"], ".4f"),
             f"{r['peak_rss_mb']:.0f}{mark}", f"{r['fit_added_mb']:.0f}{mark}",
             f"{r['model_state_mb']:.0f}", f"{r['bits_per_char']:.3f}",
             f"{r['score_chars_per_s']:.0f}", f"{r['loadavg']:.1f}"]
        )  # fmt: skip
    lines.append(markdown_table(header, rows).rstrip("\n"))
    lines += ["", "Step time at the largest size over the smallest (same run, input `text`):", ""]
    by_model: dict[str, dict[float, dict]] = {}
    for r in records:
        if "error" not in r and r.get("input") == "text" and r.get("step_seconds"):
            by_model.setdefault(r["model"], {})[r["size_mb"]] = r
    for model, runs in by_model.items():
        small, large = runs[min(runs)], runs[max(runs)]
        ratio = large["step_seconds"] / small["step_seconds"]
        lines.append(
            f"- {model}: {small['step_seconds']:.4g} s at {min(runs):g} MB, "
            f"{large['step_seconds']:.4g} s at {max(runs):g} MB: ratio {ratio:.2f}"
        )
    if draws:
        lines += [
            "",
            "Median time to draw one training batch, the corpus sizes interleaved in one "
            f"process ({draws[0]['reps']} draws each; `{draws[0].get('command', '--draw')}`, "
            "about 25 s, not under the lock):",
            "",
        ]
        for r in draws:
            shown = ", ".join(f"{us:.0f} µs at {mb} MB" for mb, us in r["median_us"].items())
            lines.append(f"- {r['model']}: {shown}; ratio {r['ratio_largest_smallest']:.2f}")
    fingerprints = {r["size_mb"]: r["corpus"] for r in records if "corpus" in r and "size_mb" in r}
    lines += ["", "Corpus fingerprints (`load_python_source(max_bytes, random_state=0)`):", ""]
    for size, fp in sorted(fingerprints.items()):
        lines.append(
            f"- {size:g} MB: {fp['n_files']} files, {fp['n_bytes']} bytes, paths sha256 "
            f"{fp['paths_sha256']}, Python {fp['python']}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 100], help="MB")
    parser.add_argument("--models", nargs="+", default=None, help="default: every built-in")
    parser.add_argument("--steps", type=int, default=20, help="training steps per run")
    parser.add_argument("--held-out", type=int, default=32768, help="held-out characters")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--input", choices=["text", "czb"], default="text")
    parser.add_argument("--unicode", action="store_true", help="keep non-ASCII characters")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per run")
    parser.add_argument("--smoke", action="store_true", help="0.2 MB, 3 steps, two models")
    parser.add_argument("--out", type=Path, default=None, help="JSON lines file (appended)")
    parser.add_argument(
        "--md",
        type=Path,
        default=None,
        help="table of every record in --out (default: none "
        "with --out or --smoke, else results/scale.md)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", dest="model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--md-only", action="store_true", help="rewrite --md from --out")
    parser.add_argument(
        "--draw", action="store_true", help="only time batch drawing per size, interleaved"
    )
    args = parser.parse_args(argv)
    if args.draw:
        models = args.models or builtin_models()
        out = args.out or RESULTS / "scale.jsonl"
        for record in draw_times(args.sizes, models, 300 if not args.smoke else 5, args.unicode):
            shown = " ".join(a for a in sys.argv[1:] if a not in ("--out", str(args.out)))
            record = {**record, "command": f"python benchmarks/scale.py {shown}".strip()}
            line = json.dumps({**record, "date": time.strftime("%Y-%m-%d %H:%M")})
            print(line, flush=True)
            with open(out, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        return 0
    if args.md_only:
        every = [json.loads(line) for line in args.out.read_text(encoding="utf-8").splitlines()]
        args.md.write_text(markdown(every), encoding="utf-8")
        return 0
    if args.child:
        args.model = args.child
        print(json.dumps(child(args)), flush=True)
        return 0
    if args.smoke:
        args.sizes, args.steps, args.held_out = [0.2], 3, 2000
        args.models = args.models or ["mlp", "ngram"]
    models = args.models or builtin_models()
    out = args.out or RESULTS / "scale.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    shown = [a for a in (argv if argv is not None else sys.argv[1:])]
    for flag in ("--out", "--md"):  # where the results go is not part of the measurement
        if flag in shown:
            cut = shown.index(flag)
            del shown[cut : cut + 2]
    command = "python benchmarks/scale.py " + " ".join(shown)
    records = []
    failed = False
    for size in args.sizes:
        for model in models:
            record = {**launch(model, size, args), "command": command.strip()}
            record["date"] = time.strftime("%Y-%m-%d %H:%M")
            records.append(record)
            failed |= "error" in record
            line = json.dumps(record)
            print(line, flush=True)
            with open(out, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
    md = args.md or (RESULTS / "scale.md" if not args.smoke and args.out is None else None)
    if md is not None:
        every = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        md.write_text(markdown(every), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
