"""Throughput of charzoo on 2 CPU cores, side by side with straightforward baselines.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/speed.py [--sections ...] [--models ...]
    python benchmarks/speed.py --smoke --out /tmp/speed.jsonl     # a few seconds, tiny sizes

Sections (``--sections``, default all):

- ``train``: median seconds per training step of every neural model at its default size and
  batch size, measured inside ``fit`` (batch, forward, backward, clipping, AdamW, schedule),
  and of the same network written in the makemore lecture style
  (:mod:`baselines.lecture_pytorch`: per-example Python data through a ``DataLoader``,
  hand-written cells/attention) at the same batch. Target: time ratio <= 0.8.
- ``generate``: names/s of ``generate(n=1000)`` versus sampling one name at a time with the
  whole context recomputed each step, both from the same trained module. Targets: speedup
  >= 10 (sequence models), >= 5 (window models).
- ``score``: characters/s of ``score`` on the test split versus a per-text loop over the same
  module. Target: speedup >= 5.
- ``ngram``: fit and score time of :class:`~charzoo.CharNGram` versus ``nltk.lm`` MLE and
  KneserNeyInterpolated at the same order on the same split, with both perplexities.
  Targets: speedup >= 50 (score), >= 20 (fit).
- ``rss``: peak resident memory of fitting the default CharTransformer on names, in a fresh
  subprocess. Target: <= 1.5 GB.
- ``makemore``: ms per step of charzoo models configured like the makemore script's defaults
  (batch 32), next to the makemore figures quoted in the issue for this machine kind.

Every figure is the median of ``--reps`` runs with its spread (min, max); charzoo and the
baseline alternate run by run (A/B/A/B) so background load hits both alike. Each record is
one JSON line (``kind: "speed"``), printed and appended to ``benchmarks/results/speed.jsonl``
(``--out`` elsewhere). The quality fields shared with the other result files (``test_nll``,
``perplexity``, ...) are filled where the record measures them and ``null`` otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from _common import RESULTS_DIR, markdown_table, names_split, quality
from baselines import lecture_pytorch as lecture
from baselines.nltk_ngram import fit_nltk, nltk_nll

import charzoo

SMOKE_MODELS = ("mlp", "bow", "gru", "transformer")  # one of each baseline kind
SECTIONS = ("train", "generate", "score", "ngram", "rss", "makemore")
WINDOW = ("neural_bigram", "mlp", "wavenet")
SEQUENCE = ("rnn", "gru", "lstm", "bow", "transformer", "mingru", "minlstm")
TARGETS = {  # section: (field, comparison, bound)
    "train": ("time_ratio", "<=", 0.8),
    "generate_sequence": ("speedup", ">=", 10.0),
    "generate_window": ("speedup", ">=", 5.0),
    "score": ("speedup", ">=", 5.0),
    "ngram_score": ("speedup", ">=", 50.0),
    "ngram_fit": ("speedup", ">=", 20.0),
    "rss": ("peak_rss_gb", "<=", 1.5),
}
# median ms per training step of the makemore script (batch 32, no workers) on this machine
# kind, as quoted when the speed bar was set (not measured here), and the charzoo settings of
# the same network
MAKEMORE_REFERENCE_MS = {
    "bigram": 0.9,
    "mlp": 5.6,
    "rnn": 3.0,
    "gru": 7.3,
    "bow": 2.0,
    "transformer": 16.9,
}
_B32 = {"batch_size": 32}  # makemore's batch: 32 names
MAKEMORE_SETTINGS = {  # makemore: block 16 (longest name + 1), n_embd = n_embd2 = 64, 4 layers
    "bigram": ("neural_bigram", {"batch_size": 32 * 16}),
    "mlp": ("mlp", {"block_size": 16, "n_embd": 64, "n_hidden": 64, "batch_size": 32 * 16}),
    "rnn": ("rnn", {"n_embd": 64, "n_hidden": 64, "n_layers": 1, "dropout": 0.0, **_B32}),
    "gru": ("gru", {"n_embd": 64, "n_hidden": 64, "n_layers": 1, "dropout": 0.0, **_B32}),
    "bow": ("bow", {"n_embd": 64, "n_hidden": 64, **_B32}),
    "transformer": (
        "transformer",
        {"n_layers": 4, "n_heads": 4, "n_embd": 64, "block_size": 16, "dropout": 0.0, **_B32},
    ),
}


# ---------------------------------------------------------------------------------- utils
def spread(values: list[float]) -> dict:
    """Median, min, max and the runs (rounded) of repeated measurements."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": [float(f"{v:.6g}") for v in values],
    }


def per_call(fn, min_seconds: float) -> float:
    """Seconds per call of ``fn``, repeating it for at least ``min_seconds`` (fast calls)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def alternate(reps: int, ours, theirs) -> tuple[list[float], list[float]]:
    """Run ``ours()`` and ``theirs()`` alternately ``reps`` times (A/B/A/B); their results."""
    a, b = [], []
    for _ in range(reps):
        a.append(ours())
        b.append(theirs())
    return a, b


def check(record: dict, target: str) -> dict:
    field, op, bound = TARGETS[target]
    value = record.get(field)
    record["target"] = f"{field} {op} {bound}"
    if value is None:
        record["passed"] = None
    else:
        record["passed"] = value <= bound if op == "<=" else value >= bound
    return record


class Writer:
    """Print records as JSON lines and append them to a results file (if any)."""

    def __init__(self, path: Path | None, extra: dict) -> None:
        self.path, self.extra = path, extra
        self.records: list[dict] = []

    def __call__(self, record: dict) -> None:
        record = {
            "kind": "speed",
            "test_nll": None,
            "perplexity": None,
            "bits_per_char": None,
            "n_parameters": None,
            "fit_seconds": None,
            "steps": None,
            **record,
            **self.extra,
        }
        line = json.dumps(record, default=_json_default)
        print(line, flush=True)
        self.records.append(record)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")


def _json_default(value):
    return str(value)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- charzoo side
class _StampedTask:
    """Wraps a training task: records the time at which each training batch is requested."""

    def __init__(self, task, stamps: list[float]) -> None:
        self.task, self.stamps = task, stamps

    def train_loss(self, module):
        self.stamps.append(time.perf_counter())
        return self.task.train_loss(module)

    def eval_loss(self, module):
        return self.task.eval_loss(module)


def charzoo_step_times(name: str, params: dict, train: list[str], steps: int, seed: int):
    """Seconds of each of ``steps`` training steps inside ``fit`` (after one warm-up step);
    also returns the fitted model. Evaluation is left to the end so no step includes it."""
    model = charzoo.create_model(
        name,
        **{
            **params,
            "max_steps": steps + 2,
            "eval_interval": 10**9,
            "validation_fraction": 0.0,
            "random_state": seed,
        },
    )
    stamps: list[float] = []
    build_task = model._training_task
    model._training_task = lambda *args: _StampedTask(build_task(*args), stamps)
    model.fit(train)
    del model._training_task
    return [b - a for a, b in zip(stamps[1:], stamps[2:])], model


def targets_per_step(model, train: list[str]) -> float:
    """Mean number of predicted characters in one training batch of ``model``."""
    from charzoo.window import WindowLM

    if isinstance(model, WindowLM):
        return float(model.batch_size)
    block = getattr(model.module_, "block_size", None) or 10**9
    lengths = torch.tensor([min(len(t) + 1, block) for t in train], dtype=torch.float64)
    return float(model.batch_size * lengths.mean())


# -------------------------------------------------------------------------- baseline side
def lecture_model(name: str, model, stoi: dict, train: list[str]):
    """The lecture-style network of the same architecture and size as ``model`` (fitted
    charzoo estimator) and its dataset; ``None`` when there is no baseline for ``name``."""
    vocab = model.tokenizer_.vocab_size
    p = model.get_params()
    if name == "mlp" and not p["batch_norm"]:
        module = lecture.LectureMLP(
            vocab, p["block_size"], p["n_embd"], p["n_hidden"], p["n_layers"]
        )
        return module, lecture.WindowDataset(train, stoi, p["block_size"])
    if name in ("rnn", "gru", "lstm"):
        module = lecture.LectureRecurrent(
            name, vocab, p["n_embd"], p["n_hidden"], p["n_layers"], p["dropout"]
        )
        return module, lecture.SequenceDataset(train, stoi)
    if name == "bow":
        return lecture.LectureBoW(vocab, p["n_embd"], p["n_hidden"]), lecture.SequenceDataset(
            train, stoi
        )
    if name == "transformer":
        module = lecture.LectureTransformer(
            vocab, p["block_size"], p["n_layers"], p["n_heads"], p["n_embd"], p["dropout"]
        )
        return module, lecture.SequenceDataset(train, stoi)
    return None


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def loop_functions(model):
    """Per-name sampling and per-text scoring functions over ``model.module_``."""
    from charzoo.window import WindowLM

    if isinstance(model, WindowLM):
        return lecture.window_functions(model.module_, model._context_length())
    return lecture.sequence_functions(model.module_, getattr(model.module_, "block_size", None))


# ------------------------------------------------------------------------------- sections
def bench_train(models, train, args, emit) -> dict:
    """Training step time, charzoo vs lecture style; returns the fitted models for reuse."""
    stoi = {ch: i + 1 for i, ch in enumerate(sorted(set("".join(train))))}
    fitted = {}
    for name in models:
        cls = charzoo.get_model_class(name)
        _, probe = charzoo_step_times(name, args.overrides, train[:200], 1, 0)
        baseline = lecture_model(name, probe, stoi, train)
        batch = probe.batch_size

        def ours(name=name):
            times, fitted[name] = charzoo_step_times(
                name, args.overrides, train, args.steps, len(fitted)
            )
            return statistics.median(times)

        def theirs(baseline=baseline, batch=batch):
            module, dataset = baseline
            times = lecture.train_step_times(module, dataset, batch, args.steps + 1)
            return statistics.median(times[1:])

        if baseline is None:
            a, b = [ours() for _ in range(args.reps)], None
        else:
            a, b = alternate(args.reps, ours, theirs)
        model = fitted[name]
        chars = targets_per_step(model, train)
        record = {
            "section": "train",
            "model": cls.__name__,
            "name": name,
            "batch_size": batch,
            "step_seconds": spread(a),
            "steps_per_second": 1 / statistics.median(a),
            "chars_per_second": chars / statistics.median(a),
            "chars_per_step": chars,
            "n_parameters": model.n_parameters_,
            "baseline": None,
        }
        if b is not None:
            record.update(
                baseline="lecture_pytorch." + type(baseline[0]).__name__,
                baseline_n_parameters=n_params(baseline[0]),
                baseline_step_seconds=spread(b),
                time_ratio=statistics.median(a) / statistics.median(b),
                time_ratio_runs=[x / y for x, y in zip(a, b)],
            )
        emit(check(record, "train"))
    return fitted


def fit_for_sampling(name: str, train, val, args):
    params = {**args.overrides, "max_steps": args.fit_steps, "random_state": 0}
    model = charzoo.create_model(name, **params)
    start = time.perf_counter()
    model.fit(train, validation_texts=val)
    return model, time.perf_counter() - start


def bench_generate_score(models, train, val, test, args, emit, sections) -> None:
    from charzoo.window import WindowLM

    for name in models:
        model, fit_seconds = fit_for_sampling(name, train, val, args)
        kind = "window" if isinstance(model, WindowLM) else "sequence"
        next_logits, text_nll, start = loop_functions(model)
        max_new = max(32, 2 * model.max_text_length_)
        model.module_.eval()
        base = {
            "model": type(model).__name__,
            "name": name,
            "family": kind,
            "fit_steps": model.n_steps_,
            "baseline": "lecture_pytorch."
            + ("sample_one_by_one" if "generate" in sections else "score_per_text"),
        }
        if "generate" in sections:
            seeds = iter(range(10**6))
            chars = {}

            def ours(model=model, seeds=seeds, chars=chars):
                start_time = time.perf_counter()
                names = model.generate(args.n_generate, random_state=next(seeds))
                chars["ours"] = sum(len(t) for t in names)
                return args.n_generate / (time.perf_counter() - start_time)

            def theirs(nl=next_logits, st=start, seeds=seeds, chars=chars, mx=max_new):
                gen = torch.Generator().manual_seed(next(seeds))
                start_time = time.perf_counter()
                rows = lecture.sample_one_by_one(nl, st, args.n_baseline_generate, mx, gen)
                chars["theirs"] = sum(len(r) for r in rows)
                return args.n_baseline_generate / (time.perf_counter() - start_time)

            a, b = alternate(args.reps, ours, theirs)
            record = {
                **base,
                "section": "generate",
                "baseline": "lecture_pytorch.sample_one_by_one",
                "n": args.n_generate,
                "baseline_n": args.n_baseline_generate,
                "names_per_second": spread(a),
                "baseline_names_per_second": spread(b),
                "mean_name_length": chars["ours"] / args.n_generate,
                "baseline_mean_name_length": chars["theirs"] / args.n_baseline_generate,
                "speedup": statistics.median(a) / statistics.median(b),
            }
            emit(check(record, f"generate_{kind}"))
        if "score" in sections:
            encoded = [model.tokenizer_.encode(t).tolist() for t in test]
            subset = encoded[: args.n_baseline_texts]
            n_chars = sum(len(t) + 1 for t in test)
            n_sub = sum(len(t) + 1 for t in subset)
            perplexity = model.score(test[:10])  # warm-up

            def ours(model=model, n_chars=n_chars):
                return n_chars / per_call(lambda: model.score(test), args.min_seconds)

            def theirs(fn=text_nll, subset=subset, n_sub=n_sub):
                start_time = time.perf_counter()
                lecture.score_per_text(fn, subset)
                return n_sub / (time.perf_counter() - start_time)

            a, b = alternate(args.reps, ours, theirs)
            perplexity = model.score(test)
            total, count = lecture.score_per_text(text_nll, encoded)
            record = {
                **base,
                "section": "score",
                "baseline": "lecture_pytorch.score_per_text",
                "n_texts": len(test),
                "baseline_n_texts": len(subset),
                "chars_per_second": spread(a),
                "baseline_chars_per_second": spread(b),
                "speedup": statistics.median(a) / statistics.median(b),
                **quality(perplexity=perplexity),
                "baseline_test_nll": total / count,
                "n_parameters": model.n_parameters_,
                "fit_seconds": fit_seconds,
                "steps": model.n_steps_,
                "note": "briefly trained model (fit_steps); not a quality result",
            }
            emit(check(record, "score"))


def bench_ngram(train, test, args, emit) -> None:
    """CharNGram vs nltk.lm at the same order: fit time, score time, perplexity."""
    order = args.ngram_order
    subset = test[: args.n_baseline_texts]
    pairs = (("kneser_ney", {"smoothing": "kneser_ney", "discount": 0.1}), ("mle", None))
    for kind, params in pairs:
        # MLE: charzoo's add-k with alpha=0 is the maximum-likelihood estimate
        params = params or {"smoothing": "add_k", "alpha": 0.0}
        fitted: dict = {}

        def ours_fit(params=params, fitted=fitted):
            seconds = per_call(
                lambda: fitted.__setitem__(
                    "ours", charzoo.CharNGram(order=order, **params).fit(train)
                ),
                args.min_seconds,
            )
            return seconds

        def theirs_fit(kind=kind, fitted=fitted):
            start = time.perf_counter()
            fitted["theirs"] = fit_nltk(kind, train, order)
            return time.perf_counter() - start

        fa, fb = alternate(args.reps, ours_fit, theirs_fit)
        ours, theirs = fitted["ours"], fitted["theirs"]
        ours.score(subset[:10])  # warm-up
        n_chars = sum(len(t) + 1 for t in subset)
        scores: dict = {}

        def ours_score(ours=ours, scores=scores):
            return per_call(lambda: scores.__setitem__("ours", ours.score(subset)), 0.2)

        def theirs_score(theirs=theirs, scores=scores):
            start = time.perf_counter()
            scores["theirs"] = nltk_nll(theirs, subset)
            return time.perf_counter() - start

        sa, sb = alternate(args.reps, ours_score, theirs_score)
        total, count = scores["theirs"]
        nll = math.log(scores["ours"]) if scores["ours"] > 0 else math.inf
        base = {
            "model": "CharNGram",
            "name": "ngram",
            "order": order,
            "params": {"order": order, **params},
            "baseline": f"nltk.lm.{type(theirs).__name__}",
            "n_train_texts": len(train),
        }
        emit(
            check(
                {
                    **base,
                    "section": "ngram_fit",
                    "fit_seconds": statistics.median(fa),
                    "fit_seconds_spread": spread(fa),
                    "baseline_fit_seconds": spread(fb),
                    "speedup": statistics.median(fb) / statistics.median(fa),
                },
                "ngram_fit",
            )
        )
        emit(
            check(
                {
                    **base,
                    "section": "ngram_score",
                    "n_texts": len(subset),
                    "n_chars": n_chars,
                    "score_seconds": spread(sa),
                    "baseline_score_seconds": spread(sb),
                    "speedup": statistics.median(sb) / statistics.median(sa),
                    "test_nll": _finite(nll),
                    "perplexity": _finite(scores["ours"]),
                    "bits_per_char": _finite(nll / math.log(2)),
                    "baseline_test_nll": _finite(total / count),
                    "note": "test_nll on the first n_texts test names; MLE is infinite (null) "
                    "when a test n-gram was never seen",
                },
                "ngram_score",
            )
        )


_RSS_CHILD = """
import json, resource, sys, time
import torch
torch.set_num_threads({threads})
from _common import names_split
from charzoo import CharTransformer
train, val, test = names_split()
train, val, test = train[:{limit}], val[:{limit}], test[:{limit}]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
params = {params!r}
model = CharTransformer(random_state=0, **params)
start = time.perf_counter()
model.fit(train, validation_texts=val)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"before_kb": before, "peak_kb": peak,
    "fit_seconds": seconds, "steps": model.n_steps_, "n_parameters": model.n_parameters_,
    "perplexity": model.score(test)}}))
"""


def bench_rss(args, emit) -> None:
    params = {} if args.rss_steps is None else {"max_steps": args.rss_steps}
    code = _RSS_CHILD.format(
        threads=args.threads,
        params=params,
        limit=300 if args.smoke else None,
    )
    out = subprocess.run(  # run in this folder: ``python -c`` imports _common from the cwd
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    ).stdout
    child = json.loads(out.strip().splitlines()[-1])
    perplexity = child["perplexity"]
    record = {
        "section": "rss",
        "model": "CharTransformer",
        "name": "transformer",
        "params": params or "defaults",
        "peak_rss_gb": child["peak_kb"] / 2**20,
        "rss_before_fit_gb": child["before_kb"] / 2**20,
        "fit_seconds": child["fit_seconds"],
        "steps": child["steps"],
        "n_parameters": child["n_parameters"],
        **quality(perplexity=perplexity),
        "baseline": None,
    }
    emit(check(record, "rss"))


def bench_makemore(train, args, emit) -> None:
    for key, (name, params) in MAKEMORE_SETTINGS.items():
        if args.models and name not in args.models:
            continue
        runs = []
        for rep in range(args.reps):
            times, model = charzoo_step_times(name, params, train, args.steps, rep)
            runs.append(statistics.median(times))
        emit(
            {
                "section": "makemore",
                "model": type(model).__name__,
                "name": name,
                "params": params,
                "n_parameters": model.n_parameters_,
                "step_ms": spread([1000 * r for r in runs]),
                "makemore_reference_ms": MAKEMORE_REFERENCE_MS[key],
                "ratio_to_reference": 1000 * statistics.median(runs) / MAKEMORE_REFERENCE_MS[key],
                "baseline": f"makemore.py --type {key} (reference figure, not run here)",
            }
        )


def table(path: Path) -> str:
    """Markdown summary of the latest record of every (section, model, baseline) in ``path``."""
    latest: dict[tuple, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("kind") == "speed" and not record.get("smoke"):
            latest[record["section"], record["name"], record.get("baseline")] = record
    header = ["section", "model", "baseline", "charzoo", "baseline", "ratio", "target", "passed"]
    rows = [
        [
            section,
            name,
            baseline or "-",
            *_summary_cells(r),
            r.get("target", "-"),
            r.get("passed", "-"),
        ]
        for (section, name, baseline), r in latest.items()
    ]
    return markdown_table(header, rows, align=list("lllrrrll"))


def _summary_cells(r: dict) -> tuple[str, str, str]:
    med = lambda key: (r.get(key) or {}).get("median")  # noqa: E731
    section = r["section"]
    if section == "train":
        theirs = med("baseline_step_seconds")
        return (
            f"{1000 * med('step_seconds'):.1f} ms/step",
            f"{1000 * theirs:.1f} ms/step" if theirs else "-",
            f"{r['time_ratio']:.2f}x time" if r.get("time_ratio") else "-",
        )
    if section == "generate":
        return (
            f"{med('names_per_second'):.0f} names/s",
            f"{med('baseline_names_per_second'):.0f} names/s",
            f"{r['speedup']:.1f}x",
        )
    if section == "score":
        return (
            f"{med('chars_per_second'):.0f} chars/s",
            f"{med('baseline_chars_per_second'):.0f} chars/s",
            f"{r['speedup']:.1f}x",
        )
    if section == "ngram_fit":
        return (
            f"{r['fit_seconds']:.3f} s",
            f"{med('baseline_fit_seconds'):.2f} s",
            f"{r['speedup']:.0f}x",
        )
    if section == "ngram_score":
        return (
            f"{med('score_seconds'):.4f} s",
            f"{med('baseline_score_seconds'):.3f} s",
            f"{r['speedup']:.1f}x",
        )
    if section == "rss":
        return f"{r['peak_rss_gb']:.2f} GB", "-", "-"
    return (
        f"{med('step_ms'):.1f} ms/step",
        f"{r['makemore_reference_ms']} ms/step",
        f"{r['ratio_to_reference']:.2f}x",
    )


# ----------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--models", nargs="+", default=None, help="registry names")
    parser.add_argument("--reps", type=int, default=5, help="runs per figure")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per run")
    parser.add_argument("--fit-steps", type=int, default=300, help="training before sampling")
    parser.add_argument("--n-generate", type=int, default=1000)
    parser.add_argument("--n-baseline-generate", type=int, default=200)
    parser.add_argument("--n-baseline-texts", type=int, default=1000)
    parser.add_argument("--ngram-order", type=int, default=3)
    parser.add_argument("--rss-steps", type=int, default=None, help="default: full default fit")
    parser.add_argument("--min-seconds", type=float, default=0.3)
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (default 2, the issue's '2 CPU cores'; run under the shared lock: "
        "two OpenMP threads run up to 4x slower whenever another process holds a core)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: a few seconds")
    parser.add_argument(
        "--out", type=Path, default=None, help="default results/speed.jsonl (smoke: none)"
    )
    parser.add_argument("--no-write", action="store_true", help="only print")
    parser.add_argument(
        "--table",
        type=Path,
        nargs="?",
        const=RESULTS_DIR / "speed.jsonl",
        default=None,
        help="print a Markdown summary of a results file (default results/speed.jsonl), exit",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.reps, args.steps, args.fit_steps = 1, 2, 3
        args.n_generate, args.n_baseline_generate, args.n_baseline_texts = 20, 3, 20
        args.min_seconds, args.rss_steps = 0.0, 2
        args.models = args.models or list(SMOKE_MODELS)
    args.overrides = {"batch_size": 8} if args.smoke else {}
    if args.out is None and not args.smoke:
        args.out = RESULTS_DIR / "speed.jsonl"
    if args.no_write:
        args.out = None
    return args


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    if args.table is not None:
        print(table(args.table), end="")
        return []
    torch.set_num_threads(args.threads)
    neural = [n for n in (*WINDOW, *SEQUENCE) if n in charzoo.list_models()]
    models = args.models or neural
    train, val, test = names_split()
    if args.smoke:
        train, val, test = train[:300], val[:50], test[:50]
    emit = Writer(
        args.out,
        {
            "smoke": args.smoke,
            "quick": args.smoke,
            "reps": args.reps,
            "charzoo": charzoo.__version__,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
            "date": time.strftime("%Y-%m-%d"),
        },
    )
    if "train" in args.sections:
        bench_train([m for m in models if m in neural], train, args, emit)
    if {"generate", "score"} & set(args.sections):
        chosen = [m for m in models if m in neural]
        bench_generate_score(chosen, train, val, test, args, emit, set(args.sections))
    if "ngram" in args.sections:
        bench_ngram(train, test, args, emit)
    if "rss" in args.sections:
        bench_rss(args, emit)
    if "makemore" in args.sections:
        bench_makemore(train, args, emit)
    return emit.records


if __name__ == "__main__":
    main()
