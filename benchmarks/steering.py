"""Constrained generation: validity, fidelity to the model's conditional, cost, most_likely.

Four sections, each printing JSON lines (appended to ``results/steering.jsonl``), then the
table ``results/steering.md``:

* ``validity``: random patterns (with a length range, an excluded substring and the training
  names excluded): the fraction of returned texts that satisfy every constraint.
* ``fidelity``: on constraints whose texts can be enumerated, the total-variation distance
  between 20,000 samples and the exact conditional (every text weighted by
  ``exp(score_samples)``), for the exact samplers (enumeration, and the dynamic programme of
  window models), sequential Monte Carlo (forced) and local
  masking, beside the noise floor (20,000 draws from the exact conditional itself).
* ``cost``: seconds for 1,000 samples under a rare constraint (acceptance below 1/1000) and
  a common one (a length range) against 1,000 unconstrained samples, side by side
  (interleaved, median of 3), with the automatic method (the dynamic programme for these
  window models) and with sequential Monte Carlo forced (the method of
  other models), with rejection sampling's expected number of draws and time.
* ``most_likely``: ``most_likely(20)`` against the exact top 20 by enumeration.

The models: ``CharNGram(order=4)`` (counts) and a small ``CharMLP`` (neural), both fitted
on the names training split.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/steering.py   # about 10 minutes
    python benchmarks/steering.py --smoke --results /tmp/smoke      # seconds
    python benchmarks/steering.py --table                           # rewrite the table only
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import sys
import time
from pathlib import Path

import _common
import numpy as np
import torch

from charzoo import CharMLP, CharNGram
from charzoo.constraints import Constraints, compile_constraints
from charzoo.steered import constrained_sample
from charzoo.steering import Rows, enumerate_language

NAME = "steering"
FIDELITY = {
    "pattern [aeiklmnrs]{3}": dict(pattern="[aeiklmnrs]{3}"),
    "length 4 over aelnr": dict(length=4, chars="aelnr"),
}
RARE = dict(starts_with="x", ends_with="n", length="5-7")
COMMON = dict(length="6-8")


def models(train: list[str], smoke: bool) -> dict:
    mlp = CharMLP(
        block_size=3,
        n_embd=10,
        n_hidden=64,
        max_steps=50 if smoke else 4000,
        verbose=False,
        random_state=0,
    )
    return {"ngram4": CharNGram(order=4).fit(train), "mlp": mlp.fit(train)}


def exact(model, kwargs: dict) -> dict[str, float]:
    spec = Constraints.from_args(**kwargs)
    automaton = compile_constraints(spec, model.tokenizer_, "", 32)
    rows = Rows(model._decoder, torch.zeros(0, dtype=torch.long))
    ids, log_probs = enumerate_language(rows, automaton, 1.0, None, None)
    texts = [model.tokenizer_.decode(i) for i in ids]
    scores = model.score_samples(texts)  # the definition: exp(score_samples)
    probs = np.exp(scores - np.logaddexp.reduce(scores))
    assert np.allclose(probs, torch.softmax(log_probs, 0).numpy(), atol=1e-6)
    return dict(zip(texts, probs))


def tv(samples: list[str], target: dict[str, float]) -> float:
    counts = collections.Counter(samples)
    return 0.5 * sum(abs(counts.get(t, 0) / len(samples) - p) for t, p in target.items())


def fidelity(name: str, model, n: int) -> None:
    for label, kwargs in FIDELITY.items():
        target = exact(model, kwargs)
        spec = Constraints.from_args(**kwargs)
        floor = np.random.default_rng(0).choice(list(target), n, p=list(target.values()))
        record = {"section": "fidelity", "model": name, "constraint": label, "texts": len(target)}
        record["samples"] = n
        record["noise_floor_tv"] = tv(floor.tolist(), target)
        for method in ("exact", "dp", "smc", "mask"):
            start = time.perf_counter()
            samples = constrained_sample(
                model, n, "", 1.0, None, None, None, 1, spec, method=method
            )
            record[f"{method}_seconds"] = time.perf_counter() - start
            record[f"{method}_tv"] = tv(samples, target)
        record["smc_above_floor"] = record["smc_tv"] - record["noise_floor_tv"]
        _common.emit(record, NAME)


def cost(name: str, model, n: int, reps: int) -> None:
    for label, kwargs in (("rare", RARE), ("common", COMMON)):
        spec = Constraints.from_args(**kwargs)
        for method in ("auto", "smc"):
            times: dict[str, list[float]] = {"unconstrained": [], "constrained": []}
            for rep in range(reps):  # interleaved, so both see the same machine load
                start = time.perf_counter()
                model.generate(n, random_state=rep)
                times["unconstrained"].append(time.perf_counter() - start)
                start = time.perf_counter()
                _, info = constrained_sample(
                    model, n, "", 1.0, None, None, None, rep, spec, method=method,
                    return_info=True,
                )  # fmt: skip
                times["constrained"].append(time.perf_counter() - start)
            median = {k: statistics.median(v) for k, v in times.items()}
            acceptance = float(np.exp(info["log_prob_constraint"]))
            record = {
                "section": "cost",
                "model": name,
                "constraint": f"{label} ({method})",
                "kwargs": kwargs,
                "samples": n,
                "method": info["method"],
                "seconds": median["constrained"],
                "unconstrained_seconds": median["unconstrained"],
                "ratio": median["constrained"] / median["unconstrained"],
                "acceptance": acceptance,
                "rejection_expected_draws": n / acceptance,
                "rejection_expected_seconds": median["unconstrained"] / acceptance,
                "all_seconds": times,
            }
            _common.emit(record, NAME)


def random_pattern(rng: np.random.Generator) -> str:
    atoms = ["a", "e", "[aeiou]", "[^aeiou]", "(an|el|ri|ya)", "[lmnr]", ".", "(a|o)[^a]"]
    return "".join(
        atoms[rng.integers(len(atoms))] + ["", "?", "*", "+", "{1,2}"][rng.integers(5)]
        for _ in range(rng.integers(1, 5))
    )


def validity(name: str, model, train: list[str], patterns: int, n: int) -> None:
    rng = np.random.default_rng(0)
    known = set(train)
    record = {"section": "validity", "model": name, "patterns": patterns, "per_pattern": n}
    returned = valid = unsatisfiable = 0
    for _ in range(patterns):
        pattern, low = random_pattern(rng), int(rng.integers(2, 7))
        kwargs = dict(pattern=pattern, length=(low, low + 3), not_contains="aa", exclude=train)
        try:
            texts = model.generate(n, random_state=int(rng.integers(1 << 30)), **kwargs)
        except ValueError as err:
            assert "no text" in str(err), err
            unsatisfiable += 1
            continue
        returned += len(texts)
        valid += sum(
            bool(re.fullmatch(pattern, t))
            and low <= len(t) <= low + 3
            and "aa" not in t
            and t not in known
            for t in texts
        )
    record.update(returned=returned, valid=valid, unsatisfiable=unsatisfiable)
    record["valid_fraction"] = valid / max(returned, 1)
    _common.emit(record, NAME)


def most_likely(name: str, model) -> None:
    for label, kwargs in FIDELITY.items():
        target = exact(model, kwargs)
        start = time.perf_counter()
        found = model.most_likely(20, **kwargs)
        seconds = time.perf_counter() - start
        top = sorted(target, key=target.get, reverse=True)[:20]
        _common.emit(
            {
                "section": "most_likely",
                "model": name,
                "constraint": label,
                "n": 20,
                "equals_exact_top_n": found == top,
                "seconds": seconds,
                "top5": found[:5],
            },
            NAME,
        )


def table(path: Path) -> str:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    latest = {}
    for r in records:  # the last record of each row wins
        latest[(r["section"], r["model"], r.get("constraint"))] = r
    rows = list(latest.values())
    parts = [
        "# Constrained generation\n\n<!-- generated by `python benchmarks/steering.py --table` "
        "from benchmarks/results/steering.jsonl; do not edit -->\n\nCommand: `flock "
        "/tmp/charzoo-bench.lock python benchmarks/steering.py` (1 torch thread; models "
        "fitted on the names training split: CharNGram(order=4) and CharMLP(block_size=3, "
        "n_embd=10, n_hidden=64, max_steps=4000)).\n\n## Fidelity (total variation from the "
        "exact conditional, 20,000 samples)\n\n"
    ]
    fid = [r for r in rows if r["section"] == "fidelity"]
    parts.append(
        _common.markdown_table(
            [
                "model",
                "constraint",
                "texts",
                "noise floor",
                "exact",
                "DP",
                "SMC",
                "SMC - floor",
                "local masking",
            ],
            [
                [
                    r["model"],
                    r["constraint"],
                    r["texts"],
                    f"{r['noise_floor_tv']:.4f}",
                    f"{r['exact_tv']:.4f}",
                    f"{r['dp_tv']:.4f}" if "dp_tv" in r else "-",
                    f"{r['smc_tv']:.4f}",
                    f"{r['smc_above_floor']:+.4f}",
                    f"{r['mask_tv']:.4f}",
                ]
                for r in fid
            ],
        )  # fmt: skip
    )
    parts.append(
        "\n## Cost (1,000 samples, seconds, median of 3 interleaved runs)\n\nAcceptance: the "
        "probability that an unconstrained sample satisfies the constraint (exact, or the "
        "sequential Monte Carlo estimate); rejection sampling needs 1,000 / acceptance draws, "
        "at the unconstrained time per draw.\n\n"
    )
    cost_rows = [r for r in rows if r["section"] == "cost"]
    parts.append(
        _common.markdown_table(
            [
                "model",
                "constraint",
                "method",
                "constrained s",
                "unconstrained s",
                "ratio",
                "acceptance",
                "rejection: expected draws",
                "rejection: expected s",
            ],
            [
                [
                    r["model"],
                    f"{r['constraint']} {r['kwargs']}",
                    r["method"],
                    f"{r['seconds']:.3f}",
                    f"{r['unconstrained_seconds']:.3f}",
                    f"{r['ratio']:.2f}x",
                    f"{r['acceptance']:.2e}",
                    f"{r['rejection_expected_draws']:.3g}",
                    f"{r['rejection_expected_seconds']:.3g}",
                ]
                for r in cost_rows
            ],
        )  # fmt: skip
    )
    parts.append("\n## Validity and most_likely\n\n")
    other = [r for r in rows if r["section"] in ("validity", "most_likely")]
    parts.append(
        _common.markdown_table(
            ["section", "model", "case", "result"],
            [
                [
                    r["section"],
                    r["model"],
                    r.get("constraint") or f"{r['patterns']} random patterns",
                    f"{r['valid']}/{r['returned']} valid ({r['unsatisfiable']} unsatisfiable)"
                    if r["section"] == "validity"
                    else f"equals exact top 20: {r['equals_exact_top_n']} ({r['seconds']:.2f} s)",
                ]
                for r in other
            ],
        )  # fmt: skip
    )
    text = "".join(parts)
    (path.parent / f"{NAME}.md").write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--table", action="store_true", help="only rewrite the table")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--results", type=Path, default=_common.RESULTS_DIR, help="folder of the .jsonl file"
    )
    args = parser.parse_args(argv)
    _common.RESULTS_DIR = args.results
    if not args.table:
        torch.set_num_threads(args.threads)
        train = _common.names_split()[0]
        fitted = models(train, args.smoke)
        for name, model in fitted.items():
            validity(name, model, train, 4 if args.smoke else 100, 20 if args.smoke else 50)
            fidelity(name, model, 500 if args.smoke else 20000)
            cost(name, model, 100 if args.smoke else 1000, 1 if args.smoke else 3)
            most_likely(name, model)
    text = table(args.results / f"{NAME}.jsonl")
    if args.table:
        print(text)
    else:  # stdout holds only the JSON lines
        print(f"wrote {args.results / (NAME + '.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
