"""Quality push on names: tune one model configuration at a time on the validation split.

Every configuration is fitted on the train split of the documented names split
(``train_val_test_split(load_names(), random_state=42)``, ``random_state=0``, validation
texts = the val split, whose best weights are kept) and recorded with its **validation** NLL
only; the fitted model is saved under ``--models`` (default ``/tmp/charzoo-quality-push``).
The test split is scored once, for a chosen configuration, by ``--test LABEL``: the saved model
is loaded and scored, no refit. Every record (tuning and test) is appended to
``benchmarks/results/quality_push.jsonl``; ``--table`` rewrites ``quality_push.md`` from it.

Usage (one heavy run at a time on the shared machine)::

    flock /tmp/charzoo-bench.lock python benchmarks/quality_push.py gru --label gru-6k \\
        --set max_steps=6000 dropout=0.3
    python benchmarks/quality_push.py --test gru-6k
    python benchmarks/quality_push.py --table

``--preset NAME`` starts from ``Model.presets[NAME]``; ``--set`` values are Python literals
and override it.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import _common
import torch

import charzoo
from charzoo import CharGRU, CharLSTM, CharMLP, CharTransformer, CharWaveNet
from charzoo.utils import parse_literal

NAME = "quality_push"
RESULTS = _common.RESULTS_DIR / f"{NAME}.jsonl"
TABLE = _common.RESULTS_DIR / f"{NAME}.md"
MODELS = {
    "mlp": CharMLP,
    "wavenet": CharWaveNet,
    "gru": CharGRU,
    "lstm": CharLSTM,
    "transformer": CharTransformer,
}
CLASSES = {cls.__name__: cls for cls in MODELS.values()}
BARS = {"mlp": 2.02, "wavenet": 1.97, "gru": 1.92, "lstm": 1.92, "transformer": 1.92}


def _start_params(cls, preset: str | None) -> dict:
    return {} if preset is None else dict(cls.presets[preset])


def tune(args: argparse.Namespace) -> None:
    cls = MODELS[args.model]
    overrides = dict(parse_set(s) for s in args.set)
    params = {**_start_params(cls, args.preset), **overrides}
    train, val, _ = _common.names_split()
    model = cls(random_state=0, **params)
    start = time.perf_counter()
    model.fit(train, validation_texts=val)
    seconds = time.perf_counter() - start
    args.models.mkdir(parents=True, exist_ok=True)
    model.save(args.models / f"{args.label}.cz")
    history = model.history_
    _common.emit(
        {
            "kind": "tune",
            "label": args.label,
            "model": cls.__name__,
            "preset": args.preset,
            "overrides": overrides,
            "params": {k: v for k, v in model.get_params().items() if _common._plain(v)},
            "val_nll": math.log(model.score(val)),
            "test_nll": None,
            "bar_nll": BARS[args.model],
            "n_parameters": model.n_parameters_,
            "fit_seconds": seconds,
            "steps": model.n_steps_,
            "best_step": getattr(model, "best_step_", None),
            "val_history": [v if v is None else round(v, 4) for v in history["val_loss"]],
            "command": "python benchmarks/quality_push.py " + shlex.join(args.argv),
        },
        NAME,
    )


def parse_set(item: str) -> tuple[str, object]:
    key, sep, value = item.partition("=")
    if not sep:
        raise SystemExit(f"--set expects param=value, got {item!r}")
    return key, parse_literal(value)


def _records() -> list[dict]:
    if not RESULTS.exists():
        return []
    return [json.loads(line) for line in RESULTS.read_text(encoding="utf-8").splitlines()]


def evaluate(label: str, models: Path) -> None:
    """Score the saved model of ``label`` on the test split, once."""
    tuned = [r for r in _records() if r["kind"] == "tune" and r["label"] == label]
    if not tuned:
        raise SystemExit(f"no tuning record labelled {label!r} in {RESULTS}")
    if any(r["kind"] == "test" and r["label"] == label for r in _records()):
        raise SystemExit(f"{label!r} was already scored on the test split")
    _, val, test = _common.names_split()
    model = charzoo.load(models / f"{label}.cz")
    val_nll = math.log(model.score(val))
    record = {**tuned[-1], "kind": "test", "val_nll_reloaded": val_nll}
    record["test_nll"] = math.log(model.score(test))
    record["passed"] = record["test_nll"] <= record["bar_nll"] and record["fit_seconds"] <= 900
    _common.emit(record, NAME)


def _changed_params(record: dict) -> str:
    """The recorded parameters that differ from the model's defaults (``random_state``
    aside): a preset's values as they were when the row was run, since presets change."""
    defaults = CLASSES[record["model"]]().get_params()
    changed = {
        k: v
        for k, v in record["params"].items()
        if k != "random_state" and k in defaults and v != defaults[k]
    }
    return ", ".join(f"{k}={v}" for k, v in sorted(changed.items())) or "defaults"


def table() -> str:
    records = _records()
    tested = {r["label"]: r["test_nll"] for r in records if r["kind"] == "test"}
    lines = [
        "# Quality push on names",
        "",
        "<!-- generated by `python benchmarks/quality_push.py --table` from "
        "benchmarks/results/quality_push.jsonl; do not edit -->",
        "",
        "Every configuration tried, in order, failures included. Names split "
        "`train_val_test_split(load_names(), random_state=42)`, `random_state=0`; configurations "
        "are selected on the validation NLL (best validation weights kept); the test NLL is "
        "measured once, for the chosen configurations only (`--test LABEL`, no refit). NLL in "
        "nats per character, end marker included. Fit time on the shared 2-core machine at "
        "the recorded number of torch threads. Command of a row: "
        "`flock /tmp/charzoo-bench.lock python benchmarks/quality_push.py MODEL --label LABEL "
        "[--preset P] --set <overrides>`. The configuration column lists every parameter that "
        "differs from the model's defaults, resolved when the row was run (presets have "
        "changed since, so a row's `--preset names` may not be today's preset; rerun a row "
        "with `--set` of these values). The "
        "baselines the picks were compared with, on the same split (validation / test NLL, "
        "`results/sequence_models.jsonl`, defaults at 4,000 steps, one thread): CharGRU "
        "1.9483 / 1.9300, CharLSTM 1.9428 / 1.9273. Fit times were measured while other "
        "jobs ran on the other core. Dropout: rows labelled `*-cpudrop*` "
        "were fitted with `charzoo.layers.Dropout`, whose masks differ from "
        "`torch.nn.Dropout`'s, used by every earlier row with dropout; they are the "
        "`names` presets of the MLP, WaveNet, GRU and LSTM as they train now. The rows "
        "labelled `*-packed*` (the last ones, each fitted alone at two threads) train the "
        "Transformer on packed batches (`pack_documents=True`); `l5-e112-packed-b160` is its "
        "`names` preset as it trains now, and its `-again` row is the same fit repeated to "
        "time it twice.",
        "",
    ]
    header = ["label", "model", "configuration (non-default parameters)", "val NLL"]
    header += ["test NLL", "bar", "parameters", "fit s", "threads", "best step / steps"]
    rows = []
    for r in records:
        if r["kind"] != "tune":
            continue
        over = _changed_params(r)
        test = tested.get(r["label"])
        rows.append(
            [r["label"], r["model"], over, f"{r['val_nll']:.4f}",
             "-" if test is None else f"**{test:.5f}**", r["bar_nll"], r["n_parameters"],
             f"{r['fit_seconds']:.0f}", r["threads"],
             f"{r['best_step']} / {r['steps']}"]  # fmt: skip
        )
    return "\n".join(lines) + "\n" + _common.markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", choices=sorted(MODELS))
    parser.add_argument("--label", help="name of this configuration (file name of its model)")
    parser.add_argument("--preset", help="start from Model.presets[PRESET]")
    parser.add_argument("--set", nargs="*", default=[], help="param=value overrides")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--models", type=Path, default=Path("/tmp/charzoo-quality-push"), help="saved models"
    )
    parser.add_argument("--test", metavar="LABEL", help="score LABEL's saved model on test")
    parser.add_argument("--table", action="store_true", help=f"only rewrite {TABLE.name}")
    args = parser.parse_args(argv)
    args.argv = argv
    torch.set_num_threads(args.threads)
    if args.table:
        TABLE.write_text(table(), encoding="utf-8")
    elif args.test:
        evaluate(args.test, args.models)
        TABLE.write_text(table(), encoding="utf-8")
    elif args.model and args.label:
        tune(args)
        TABLE.write_text(table(), encoding="utf-8")
    else:
        parser.error("give MODEL and --label, or --test LABEL, or --table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
