"""charzoo on one GPU, side by side with plain reference loops in the same process.

Usage::

    python benchmarks/accelerator.py                 # needs CUDA; exits 0 with a message without
    python benchmarks/accelerator.py --smoke         # tiny sizes on the CPU: checks the code runs

Two measurements (:mod:`baselines.gpu_reference` holds the reference loops):

- ``train``: :class:`~charzoo.CharTransformer` at nanoGPT's shakespeare_char settings (6
  layers, 6 heads, width 384, block 256, batch 64, dropout 0.2, learning rate 1e-3 with 100
  warm-up steps, 5,000 steps) with ``precision="auto"`` and ``compile=True``, next to a
  nanoGPT-style loop (bf16 autocast, ``torch.compile``, fused AdamW) around a network of the
  same layout and initialisation. Reported: ms per training step without evaluation
  (synchronised only at the ends of the timed stretches), tokens/s, model FLOP utilisation
  (the PaLM estimate of training FLOPs per token over the device's peak bf16 rate,
  ``--peak-tflops`` or a table of known GPUs), the whole fit's wall time per step, and the best
  validation NLL measured the same way for both (random 256-blocks of the last 10%).
- ``sample``: names/s of ``generate(10_000)`` from makemore-size Transformer and GRU models
  next to makemore's sampling loop (the whole context recomputed every step, every row at
  once) on the same trained module, the same number of steps.

Every figure is printed with the device's name; records are appended to
``benchmarks/results/accelerator.jsonl`` (``--out`` elsewhere; ``--smoke`` writes nothing
unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch
from _common import RESULTS_DIR
from baselines import gpu_reference as ref

import charzoo
from charzoo.callbacks import Callback
from charzoo.precision import precision_context, resolve_precision

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0}
FULL = {
    "n_layers": 6, "n_heads": 6, "n_embd": 384, "block_size": 256, "batch_size": 64,
    "dropout": 0.2, "steps": 5000, "warmup": 100, "eval_interval": 250, "eval_batches": 200,
    "time_from": 20, "n_names": 10_000, "sample_fit_steps": 2000,
}  # fmt: skip
SMOKE = {
    "n_layers": 2, "n_heads": 2, "n_embd": 32, "block_size": 32, "batch_size": 8,
    "dropout": 0.0, "steps": 30, "warmup": 5, "eval_interval": 10, "eval_batches": 2,
    "time_from": 5, "n_names": 200, "sample_fit_steps": 20,
}  # fmt: skip
MAKEMORE = {  # makemore's default sizes for names
    "transformer": {"n_layers": 4, "n_heads": 4, "n_embd": 64, "block_size": 32},
    "gru": {"n_embd": 64, "n_hidden": 64, "n_layers": 1},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_flops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_BF16_TFLOPS.items():
        if key in name:
            return tflops * 1e12
    return None


class StepTimer(Callback):
    """Wall time of the training steps from ``time_from`` on, evaluations excluded; the device
    is synchronised only where a timed stretch starts or ends."""

    def __init__(self, device: torch.device, time_from: int) -> None:
        self.device, self.time_from = device, time_from
        self.start: float | None = None
        self.elapsed, self.steps = 0.0, 0

    def _stop(self) -> None:
        if self.start is not None:
            _sync(self.device)
            self.elapsed += time.perf_counter() - self.start
            self.start = None

    def on_step_end(self, trainer, step, loss) -> None:
        if step == self.time_from:
            _sync(self.device)
            self.start = time.perf_counter()
        elif self.start is not None:
            self.steps += 1
            if trainer.is_eval_step(step):
                self._stop()

    def on_evaluation(self, trainer, record) -> None:
        if trainer.step >= self.time_from:
            self.start = time.perf_counter()

    def on_train_end(self, trainer) -> None:
        self._stop()


def bench_train(text: str, cfg: dict, device: torch.device, args) -> list[dict]:
    arch = {k: cfg[k] for k in ("n_layers", "n_heads", "n_embd", "block_size")}
    timer = StepTimer(device, cfg["time_from"])
    model = charzoo.CharTransformer(
        **arch, batch_size=cfg["batch_size"], dropout=cfg["dropout"], learning_rate=1e-3,
        max_steps=cfg["steps"], warmup_steps=cfg["warmup"], eval_interval=cfg["eval_interval"],
        validation_fraction=0.1, precision=args.precision, compile=args.compile,
        device=str(device), random_state=0, verbose=False, callbacks=[timer],
    )  # fmt: skip
    _sync(device)
    start = time.perf_counter()
    model.fit([text])
    _sync(device)
    fit_seconds = time.perf_counter() - start
    ids = torch.from_numpy(model.tokenizer_.encode(text).astype("int64")).to(device)
    cut = int(0.9 * len(ids))
    train, val = ids[:cut], ids[cut:]
    precision = resolve_precision(args.precision, device)

    def autocast():
        return precision_context(precision, device)

    nll = ref.block_nll(
        model.module_, val, cfg["block_size"], cfg["batch_size"], cfg["eval_batches"],
        autocast=autocast,
    )  # fmt: skip
    torch.manual_seed(0)
    plain = ref.PlainGPT(
        model.tokenizer_.vocab_size,
        block_size=arch["block_size"],
        n_layer=arch["n_layers"],  # the reference keeps nanoGPT's names
        n_head=arch["n_heads"],
        n_embd=arch["n_embd"],
        dropout=cfg["dropout"],
    ).to(device)
    n_params = sum(p.numel() for p in plain.parameters())
    assert n_params == model.n_parameters_, (n_params, model.n_parameters_)  # same network
    base = ref.train_plain(
        plain, train, val, steps=cfg["steps"], batch=cfg["batch_size"], lr=1e-3,
        warmup=cfg["warmup"], eval_interval=cfg["eval_interval"],
        eval_batches=cfg["eval_batches"], compile=args.compile, bf16=precision == "bf16",
        time_from=cfg["time_from"],
    )  # fmt: skip
    tokens = cfg["batch_size"] * cfg["block_size"]
    per_token = ref.flops_per_token(n_params, cfg["n_layers"], cfg["n_embd"], cfg["block_size"])
    peak = peak_flops(device, args.peak_tflops)
    ours_ms = 1000 * timer.elapsed / max(1, timer.steps)
    rows = []
    for who, ms, best, extra in [
        ("charzoo", ours_ms, nll, {"fit_ms_per_step": 1000 * fit_seconds / model.n_steps_,
                                   "best_step": model.best_step_, "precision": precision}),
        ("plain_loop", base["ms_per_step"], base["best_val_nll"],
         {"best_step": base["best_step"], "precision": "bf16" if precision == "bf16" else "fp32"}),
    ]:  # fmt: skip
        rows.append(
            {
                "section": "train", "who": who, "ms_per_step": round(ms, 3),
                "tokens_per_s": round(tokens / (ms / 1000)),
                "mfu": None if peak is None else round(per_token * tokens / (ms / 1000) / peak, 4),
                "best_val_nll": round(best, 4), "steps": cfg["steps"], "n_parameters": n_params,
                "compile": args.compile, **extra,
            }
        )  # fmt: skip
    rows.append(
        {"section": "train", "who": "ratio", "ms_ratio": round(ours_ms / base["ms_per_step"], 3)}
    )
    return rows


def bench_sample(names: list[str], cfg: dict, device: torch.device, args) -> list[dict]:
    rows = []
    steps = max(len(n) for n in names) + 1  # every name can end within the budget
    for name, params in MAKEMORE.items():
        if args.smoke:
            params = {k: min(v, 32) if isinstance(v, int) else v for k, v in params.items()}
        model = charzoo.create_model(
            name, **params, max_steps=cfg["sample_fit_steps"], batch_size=32, device=str(device),
            precision=args.precision, random_state=0, verbose=False,
        )  # fmt: skip
        model.fit(names)
        module = model.module_.eval()
        block = getattr(module, "block_size", None)
        times = {"charzoo": [], "makemore_loop": []}
        for rep in range(args.reps + 1):  # the first round warms up (kernels, allocator)
            _sync(device)
            start = time.perf_counter()
            ours = model.generate(cfg["n_names"], max_length=steps, random_state=rep)
            _sync(device)
            times["charzoo"].append(time.perf_counter() - start)
            generator = torch.Generator(device=device).manual_seed(rep)
            start = time.perf_counter()
            theirs = ref.sample_full_recompute(module, cfg["n_names"], steps, block, generator)
            _sync(device)
            times["makemore_loop"].append(time.perf_counter() - start)
        assert len(ours) == len(theirs) == cfg["n_names"]
        best = {k: min(v[1:]) for k, v in times.items()}
        for who, seconds in best.items():
            rows.append(
                {"section": "sample", "model": name, "who": who, "n": cfg["n_names"],
                 "steps": steps, "seconds": round(seconds, 4),
                 "names_per_s": round(cfg["n_names"] / seconds)}
            )  # fmt: skip
        speedup = best["makemore_loop"] / best["charzoo"]
        rows.append(
            {"section": "sample", "model": name, "who": "ratio", "speedup": round(speedup, 2)}
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, any device (CPU)")
    parser.add_argument("--sections", nargs="+", default=["train", "sample"],
                        choices=["train", "sample"])  # fmt: skip
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--reps", type=int, default=3, help="timed sampling rounds")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak (bf16)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() and not args.smoke:
        print("accelerator benchmark: no CUDA device here, nothing measured (use --smoke to "
              "check the code on the CPU)")  # fmt: skip
        return 0
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    if args.smoke:
        torch.set_num_threads(1)
    cfg = SMOKE if args.smoke else FULL
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    common = {"kind": "accelerator", "device": where or device.type, "torch": torch.__version__,
              "smoke": args.smoke, "date": time.strftime("%Y-%m-%d %H:%M")}  # fmt: skip
    rows = []
    from charzoo.datasets import load_names, load_shakespeare

    if "train" in args.sections:
        text = load_shakespeare()
        rows += bench_train(text[:20_000] if args.smoke else text, cfg, device, args)
    if "sample" in args.sections:
        rows += bench_sample(load_names(), cfg, device, args)
    out = args.out or (None if args.smoke else RESULTS_DIR / "accelerator.jsonl")
    for row in rows:
        record = {**common, **row}
        for key, value in record.items():
            if isinstance(value, float) and not math.isfinite(value):
                record[key] = None
        print(json.dumps(record))
        if out is not None:
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
