"""Quality and speed of the window-model zoo on names.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/window_models.py [--models ngram nltk ...]
    python benchmarks/window_models.py --table   # results/window_models.md from the .jsonl

Models: ``ngram`` (CharNGram, Kneser-Ney, orders 2-7, plus Witten-Bell and add-k at the best
order), ``nltk`` (nltk.lm.KneserNeyInterpolated side by side with CharNGram at the same order:
score-time ratio), ``neural_bigram`` (defaults), ``mlp_bn`` (``CharMLP.from_preset("names")``),
``wavenet`` (``CharWaveNet.from_preset("names")``). Every record is printed as one JSON line
and appended to ``benchmarks/results/window_models.jsonl``. Bars (test NLL = ln perplexity,
names split ``random_state=42``): n-gram best <= 2.20 with fit < 2 s; neural bigram <= 2.47 in
<= 1 min; BatchNorm MLP <= 2.09 in <= 5 min; WaveNet <= 1.99 in <= 10 min; CharNGram scoring >=
50x faster than NLTK. Neural models run with ``--threads`` torch threads (default 1: on a
shared 2-core machine one thread is faster than two fighting for the cores).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from _common import RESULTS_DIR, emit, fit_and_score, markdown_table, names_split

from charzoo import CharMLP, CharNeuralBigram, CharNGram, CharWaveNet

NAME = "window_models"
BARS = {  # model key: (max test NLL, max fit seconds)
    "ngram": (2.20, 2.0),
    "neural_bigram": (2.47, 60.0),
    "mlp_bn": (2.09, 300.0),
    "wavenet": (1.99, 600.0),
}


def _check(record: dict, key: str) -> dict:
    max_nll, max_seconds = BARS[key]
    record["bar_nll"], record["bar_seconds"] = max_nll, max_seconds
    record["passed"] = record["test_nll"] <= max_nll and record["fit_seconds"] <= max_seconds
    return record


def bench_ngram(train, val, test) -> int:
    """Kneser-Ney at orders 2-7, other smoothings at the best order; returns the best order."""
    results = {}
    for order in range(2, 8):
        model = CharNGram(order=order)
        record = fit_and_score(model, train, val, test, key="ngram")
        record["n_ngrams"] = model.n_ngrams_
        results[order] = record["test_nll"]
        emit(_check(record, "ngram"), NAME)
    best = min(results, key=results.get)
    for smoothing in ("witten_bell", "add_k"):
        model = CharNGram(order=best, smoothing=smoothing)
        record = fit_and_score(model, train, val, test, key="ngram")
        record["n_ngrams"] = model.n_ngrams_
        emit(_check(record, "ngram"), NAME)
    return best


def bench_nltk(train, test, order: int) -> None:
    """Score time of nltk.lm.KneserNeyInterpolated vs CharNGram at the same order."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import pad_both_ends, padded_everygram_pipeline

    start = time.perf_counter()
    ours = CharNGram(order=order).fit(train)
    ours_fit = time.perf_counter() - start
    ours.score(test[:10])  # warm-up (first-call allocations), as NLTK needs none
    start = time.perf_counter()
    ours_nll = math.log(ours.score(test))
    ours_score = time.perf_counter() - start

    # NLTK uses one fixed discount of 0.1: the same setting of ours should give the same NLL
    same_discount_nll = math.log(CharNGram(order=order, discount=0.1).fit(train).score(test))

    start = time.perf_counter()
    data, vocab = padded_everygram_pipeline(order, [list(t) for t in train])
    lm = KneserNeyInterpolated(order)
    lm.fit(data, vocab)
    nltk_fit = time.perf_counter() - start
    start = time.perf_counter()
    total, count = 0.0, 0
    for text in test:  # the same predictions: every character and the end marker
        padded = list(pad_both_ends(list(text), n=order))
        for i in range(order - 1, order + len(text)):  # up to the first </s>
            total -= lm.logscore(padded[i], padded[i - order + 1 : i]) * math.log(2)
            count += 1
    nltk_score = time.perf_counter() - start
    emit(
        {
            "model": "nltk.lm.KneserNeyInterpolated vs CharNGram",
            "key": "nltk",
            "order": order,
            "test_nll": ours_nll,
            "nltk_test_nll": total / count,
            "test_nll_discount_0.1": same_discount_nll,
            "fit_seconds": ours_fit,
            "nltk_fit_seconds": nltk_fit,
            "score_seconds": ours_score,
            "nltk_score_seconds": nltk_score,
            "score_speedup": nltk_score / ours_score,
            "passed": nltk_score / ours_score >= 50,
        },
        NAME,
    )


def bench_neural(key: str, model, train, val, test) -> None:
    emit(_check(fit_and_score(model, train, val, test, key=key), key), NAME)


def write_table(path: Path) -> None:
    """Markdown table of the latest result of every benchmarked configuration (all settings
    tried are listed, so a failed attempt stays visible next to a later one)."""
    latest: dict[tuple, dict] = {}
    for line in (RESULTS_DIR / f"{NAME}.jsonl").read_text().splitlines():
        record = json.loads(line)
        params = record.get("params", {})
        config = (record["model"], json.dumps(params, sort_keys=True))
        latest[config] = record
    best_ngram = min(
        (r["test_nll"] for r in latest.values() if r.get("key") == "ngram"), default=None
    )
    rows = [
        "<!-- generated by `python benchmarks/window_models.py --table` from "
        "benchmarks/results/window_models.jsonl; do not edit -->",
        "",
    ]
    table = []
    for record in latest.values():
        params = record.get("params", {})
        if record.get("key") == "nltk":
            settings = (
                f"order {record['order']}: NLTK test NLL {record['nltk_test_nll']:.3f}, "
                f"score {record['nltk_score_seconds']:.2f} s vs {record['score_seconds']:.3f} s"
            )
            table.append(
                ["NLTK KneserNeyInterpolated", settings, f"{record['test_nll']:.3f}",
                 "score >= 50x faster", "-", f"{record['nltk_fit_seconds']:.2f}",
                 f"{record['score_speedup']:.0f}x"]  # fmt: skip
            )
            continue
        shown = ("order", "smoothing", "block_size", "n_embd", "n_hidden", "n_layers")
        shown += ("batch_norm", "batch_size", "learning_rate", "max_steps")
        settings = ", ".join(f"{k}={params[k]}" for k in shown if k in params)
        size = record.get("n_parameters") or f"{record.get('n_ngrams', 0)} n-grams"
        passed = "yes" if record.get("passed") else "no"
        if record.get("key") == "ngram":  # the bar is on the best order only
            passed = "best" if record["test_nll"] == best_ngram else "-"
        table.append(
            [record["model"], settings, f"{record['test_nll']:.3f}",
             f"<= {record.get('bar_nll')} in {record.get('bar_seconds'):.0f} s", size,
             f"{record['fit_seconds']:.2f}", passed]  # fmt: skip
        )
    header = ["model", "settings", "test NLL", "bar", "parameters", "fit s", "passed"]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(rows) + "\n" + markdown_table(header, table)
    path.write_text("# Window models on names\n\n" + text)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["ngram", "nltk", "neural_bigram", "mlp_bn", "wavenet"],
        choices=["ngram", "nltk", "neural_bigram", "mlp_bn", "wavenet"],
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nltk-order", type=int, default=None, help="default: best KN order")
    parser.add_argument(
        "--table",
        type=Path,
        nargs="?",
        const=RESULTS_DIR / f"{NAME}.md",
        default=None,
        help="only write the Markdown table (default results/window_models.md) and exit",
    )
    args = parser.parse_args()
    if args.table is not None:
        write_table(args.table)
        return
    torch.set_num_threads(args.threads)
    train, val, test = names_split()
    best = 5
    if "ngram" in args.models:
        best = bench_ngram(train, val, test)
    if "nltk" in args.models:
        bench_nltk(train, test, args.nltk_order or best)
    if "neural_bigram" in args.models:
        bench_neural("neural_bigram", CharNeuralBigram(random_state=0), train, val, test)
    if "mlp_bn" in args.models:
        model = CharMLP.from_preset("names", random_state=0)
        bench_neural("mlp_bn", model, train, val, test)
    if "wavenet" in args.models:
        model = CharWaveNet.from_preset("names", random_state=0)
        bench_neural("wavenet", model, train, val, test)


if __name__ == "__main__":
    main()
