"""Mixture of zoo models against its members.

For each corpus, :class:`~charzoo.models.mixture.CharMixture` fits its members from scratch on
the train split with one shared tokenizer (validation texts = the val split, as in the
members' own benchmarks), learns the EM weights on the val split, and the test split is scored
once at the end. Also recorded: every member alone (the same fitted models), and mixtures of
subsets of the members (``prefit=True``: weights re-learned on val from the same fitted
members; their fit time is the sum of their members' fit times).

Corpora (``--corpus``):

- ``names``: ``train_val_test_split(load_names(), random_state=42)``; members: a 6-gram
  (modified) Kneser-Ney model and the ``"names"`` presets of ``CharWaveNet``, ``CharGRU``,
  ``CharLSTM`` and ``CharTransformer`` (``random_state=0``; the Transformer's fit takes about
  14 minutes, so the members are usually taken from ``quality_push.py``'s saved models, see
  ``--from-quality-push``). The n-gram order of each corpus is the one with the best
  validation NLL among orders 4-7.
- ``dinos``: ``train_val_test_split(load_dinos(), random_state=42)``;
- ``russian``: the 193 Cyrillic names of ``examples/data/russian_names.txt`` (CC0, see
  ``examples/data/SOURCES.md``), same split; both small corpora use an n-gram (7 and 5), a
  WaveNet (6,000 steps), a GRU and a Transformer (600 steps each; the best validation weights
  are kept).

Results are appended to ``benchmarks/results/mixture.jsonl``; ``--table`` rewrites
``benchmarks/results/mixture.md`` from it. ``--smoke`` runs tiny members on a few hundred names
(seconds; for CI). Heavy runs share the machine: one at a time, under the lock::

    flock /tmp/charzoo-bench.lock python benchmarks/mixture.py --corpus names dinos russian

``--cache DIR`` saves the fitted members there and, on the next run, loads them instead of
fitting (for iterating on the weights only; the recorded fit times are then the cached ones,
from ``<corpus>-fit-seconds.json``, and the records say ``"cached": true``). A cache may also be
filled with members fitted elsewhere with the same parameters, seed and data (e.g. the saved
models of ``benchmarks/quality_push.py``, which fits on the same split with
``validation_texts=val``).

Mixtures of subsets of the members are scored too: every subset of two or more members when
there are at most four, otherwise every subset that leaves one member out and every pair.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import _common
import torch

import charzoo
from charzoo import CharGRU, CharLSTM, CharNGram, CharTransformer, CharWaveNet
from charzoo.datasets import load_dinos, load_names, train_val_test_split
from charzoo.models.mixture import CharMixture

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mixture.jsonl"
TABLE = HERE / "results" / "mixture.md"
RUSSIAN = HERE.parent / "examples" / "data" / "russian_names.txt"
NAMES_BAR = 1.90
WITHOUT: set[str] = set()  # members left out (--without)
DATASETS = {  # the "data" column of the docs tables
    "names": "names",
    "dinos": "dinosaurs (80/10/10, random_state=42)",
    "russian": "Russian names, Cyrillic (80/10/10, random_state=42)",
}


def corpus(name: str) -> tuple[list[str], list[str], list[str]]:
    if name in ("names", "smoke"):
        return train_val_test_split(load_names(), random_state=42)
    if name == "dinos":
        return train_val_test_split(load_dinos(), random_state=42)
    if name == "russian":
        texts = [t.strip() for t in RUSSIAN.read_text(encoding="utf-8").splitlines() if t.strip()]
        return train_val_test_split(texts, random_state=42)
    raise ValueError(f"unknown corpus {name!r}")


def members(name: str) -> list[tuple[str, charzoo.CharLM]]:
    """The members of each corpus's mixture (every one seeded with random_state=0), less
    those that ``--without`` names (they are not even built)."""
    return [(m, make()) for m, make in _all_members(name) if m not in WITHOUT]


def _all_members(name: str) -> list[tuple[str, Callable[[], charzoo.CharLM]]]:
    seed = {"random_state": 0}
    if name == "smoke":
        return [
            ("ngram5", partial(CharNGram, order=5)),
            ("gru", partial(CharGRU, n_embd=8, n_hidden=16, max_steps=30, **seed)),
        ]
    if name == "names":
        return [
            ("ngram6", partial(CharNGram, order=6)),
            ("wavenet", partial(CharWaveNet.from_preset, "names", **seed)),
            ("gru", partial(CharGRU.from_preset, "names", **seed)),
            ("lstm", partial(CharLSTM.from_preset, "names", **seed)),
            ("transformer", partial(CharTransformer.from_preset, "names", **seed)),
        ]
    order = {"dinos": 7, "russian": 5}[name]
    return [
        (f"ngram{order}", partial(CharNGram, order=order)),
        ("wavenet", partial(CharWaveNet.from_preset, "names", max_steps=6000, **seed)),
        ("gru", partial(CharGRU, max_steps=600, **seed)),
        ("transformer", partial(CharTransformer, max_steps=600, **seed)),
    ]


def _nll(model, texts) -> float:
    return math.log(model.score(texts))


def _plain(model) -> dict:
    return {k: v for k, v in model.get_params(deep=False).items() if _common._plain(v)}


def _fit_mixture(name: str, train, val, cache: Path | None) -> CharMixture:
    spec = members(name)
    files = {m: cache / f"{name}-{m}.cz" for m, _ in spec} if cache else {}
    if files and all(f.exists() for f in files.values()):
        fitted = [(m, charzoo.load(files[m])) for m, _ in spec]
        times = json.loads((cache / f"{name}-fit-seconds.json").read_text())
        mix = CharMixture(fitted, prefit=True).fit(val)
        mix.fit_seconds_.update({m: times[m] for m, _ in spec})
        mix.cached_ = True
        return mix
    mix = CharMixture(spec, random_state=0).fit(train, validation_texts=val)
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        for m, est in mix.named_estimators_.items():
            est.save(files[m])
        (cache / f"{name}-fit-seconds.json").write_text(json.dumps(mix.fit_seconds_))
    return mix


def fill_cache(name: str, cache: Path, sources: dict[str, str], models: Path) -> None:
    """Fill ``cache`` with the members of corpus ``name``: each member named in ``sources``
    is the model saved by ``benchmarks/quality_push.py`` under that label (refused unless its
    parameters are the member's), the others are fitted here on the train split."""
    train, val, _ = corpus(name)
    runs = {}
    for line in (HERE / "results" / "quality_push.jsonl").read_text().splitlines():
        record = json.loads(line)
        runs.setdefault(record["label"], record)
    ignored = {"device", "verbose", "n_threads"}
    cache.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for member, est in members(name):
        if member in sources:
            label = sources[member]
            fitted = charzoo.load(models / f"{label}.cz")
            want, got = _plain(est), _plain(fitted)
            diff = {
                k: (v, got.get(k)) for k, v in want.items() if k not in ignored and v != got.get(k)
            }
            if diff:
                raise SystemExit(f"{label!r} is not member {member!r}: (member, saved) {diff}")
            seconds[member] = runs[label]["fit_seconds"]
        else:
            start = time.perf_counter()
            if _common._uses_validation(est):
                fitted = est.fit(train, validation_texts=val)
            else:
                fitted = est.fit(train)
            seconds[member] = time.perf_counter() - start
        fitted.save(cache / f"{name}-{member}.cz")
    (cache / f"{name}-fit-seconds.json").write_text(json.dumps(seconds))


def _emit(record: dict) -> None:
    """Record a result (smoke runs are printed only)."""
    if record["corpus"] == "smoke":
        print(json.dumps(record), flush=True)
    else:
        _common.emit(record, RESULTS.stem)


def run(name: str, cache: Path | None) -> None:
    train, val, test = corpus(name)
    if name == "smoke":
        train, val, test = train[:300], val[:100], test[:100]
    mix = _fit_mixture(name, train, val, cache)
    member_nll = {m: _nll(est, test) for m, est in mix.named_estimators_.items()}
    for m, est in mix.named_estimators_.items():
        _emit(
            {
                "corpus": name,
                "dataset": DATASETS.get(name, name),
                "kind": "member",
                "name": m,
                "model": type(est).__name__,
                "params": _plain(est),
                **_common.quality(nll=member_nll[m]),
                "val_nll": mix.validation_nll_[m],
                "n_parameters": est.n_parameters_,
                "fit_seconds": mix.fit_seconds_[m],
                "cached": getattr(mix, "cached_", False),
            }
        )
    fitted = list(mix.named_estimators_.items())
    subsets = [tuple(m for m, _ in fitted)]
    names = [m for m, _ in fitted]
    if len(fitted) > 4:  # leave-one-out subsets and pairs
        sizes = sorted({len(fitted) - 1, 2}, reverse=True)
    else:  # every subset of two or more members, largest first
        sizes = range(len(fitted) - 1, 1, -1)
    for size in sizes:
        subsets += list(itertools.combinations(names, size))
    for subset in subsets:
        full = subset == subsets[0]
        start = time.perf_counter()
        sub = mix
        if not full:
            sub = CharMixture([(m, mix.named_estimators_[m]) for m in subset], prefit=True)
        if not full:
            sub.fit(val)
        weight_seconds = time.perf_counter() - start if not full else mix.fit_seconds_["weights"]
        nll = _nll(sub, test)
        best = min(subset, key=lambda m: member_nll[m])
        _emit(
            {
                "corpus": name,
                "dataset": DATASETS.get(name, name),
                "kind": "mixture",
                "name": "+".join(subset),
                "model": "CharMixture",
                "params": {"estimators": "+".join(subset), "weights": "fit"},
                "members": list(subset),
                "weights": [round(float(w), 4) for w in sub.weights_],
                **_common.quality(nll=nll),
                "val_nll": sub.validation_nll_["mixture"],
                "best_member": best,
                "best_member_test_nll": member_nll[best],
                "beats_best_member": nll < member_nll[best],
                "bar_nll": NAMES_BAR if name == "names" else None,
                "n_parameters": sub.n_parameters_,
                "fit_seconds": sum(mix.fit_seconds_[m] for m in subset) + weight_seconds,
                "em_iterations": sub.n_em_iter_,
                "fitted_by": "CharMixture.fit" if full else "prefit members, weights on val",
                "cached": getattr(mix, "cached_", False),
                "n_train": len(train),
                "n_val": len(val),
                "n_test": len(test),
            }
        )


def table() -> str:
    """Markdown table of the latest record of each (corpus, kind, name)."""
    latest: dict[tuple, dict] = {}
    for line in RESULTS.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["corpus"] != "smoke":
            latest[(r["corpus"], r["kind"], r["name"])] = r
    lines = [
        "# Mixtures of zoo models",
        "",
        "<!-- generated by `python benchmarks/mixture.py --table` from "
        "benchmarks/results/mixture.jsonl; do not edit -->",
        "",
        "Commands: `flock /tmp/charzoo-bench.lock python benchmarks/mixture.py --threads 1 "
        "--corpus dinos russian`; names: `python benchmarks/mixture.py --threads 1 --corpus "
        "names --cache DIR --from-quality-push MEMBER=LABEL ...` (`--without` for the members "
        "left out): the neural members are the models fitted and saved by "
        "`benchmarks/quality_push.py` (`results/quality_push.md`; same parameters, checked, "
        "seed and split), their fit times are those runs' times, the n-gram is fitted here. "
        "Test NLL in nats per character (end marker included); "
        "bits/char = NLL / ln 2. Mixture fit time = its members' fit times + learning the "
        "weights. The first mixture of each corpus (unless cached) is fitted by "
        "`CharMixture.fit`; the others re-learn weights on val from the same fitted members "
        "(`prefit=True`).",
        "",
    ]
    header = ["corpus", "kind", "name", "test NLL", "bits/char", "val NLL", "weights"]
    header += ["beats best member", "parameters", "fit s", "threads", "cached"]
    rows = []
    for (corpus_name, kind, name), r in latest.items():
        weights = ", ".join(f"{w:.3f}" for w in r.get("weights", [])) or "-"
        beats = {True: "yes", False: "no", None: "-"}[r.get("beats_best_member")]
        if kind == "mixture":
            beats += f" ({r['best_member']} {r['best_member_test_nll']:.4f})"
        rows.append(
            [corpus_name, kind, name, f"{r['test_nll']:.4f}", f"{r['bits_per_char']:.4f}",
             f"{r['val_nll']:.4f}", weights, beats, r["n_parameters"], f"{r['fit_seconds']:.1f}",
             r.get("threads", "-"), "yes" if r.get("cached") else "no"]  # fmt: skip
        )
    return "\n".join(lines) + "\n" + _common.markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["names", "dinos", "russian"])
    parser.add_argument("--smoke", action="store_true", help="tiny members, seconds")
    parser.add_argument("--cache", type=Path, help="save/load fitted members here")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--table", action="store_true", help="only rewrite the markdown table")
    parser.add_argument(
        "--from-quality-push",
        nargs="+",
        metavar="MEMBER=LABEL",
        default=[],
        help="with --cache and one corpus: fill the cache first, taking these members from "
        "benchmarks/quality_push.py's saved models (--models) and fitting the others",
    )
    parser.add_argument("--models", type=Path, default=Path("/tmp/charzoo-quality-push"))
    parser.add_argument("--without", nargs="+", default=[], help="members to leave out")
    args = parser.parse_args(argv)
    WITHOUT.update(args.without)
    if args.table:
        TABLE.write_text(table(), encoding="utf-8")
        return 0
    torch.set_num_threads(args.threads)
    if args.from_quality_push:
        if not args.cache or len(args.corpus) != 1:
            parser.error("--from-quality-push needs --cache and a single --corpus")
        sources = dict(item.split("=", 1) for item in args.from_quality_push)
        fill_cache(args.corpus[0], args.cache, sources, args.models)
    for name in ["smoke"] if args.smoke else args.corpus:
        run(name, args.cache)
    if not args.smoke:
        TABLE.write_text(table(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
