"""Dropout from the fit's own generator where torch's fused kernels would use the global one.

Issue 26 made every random draw of a fit come from its private generator. Two places drew
from torch's global generator inside fused kernels, and now take another path in training
with ``dropout > 0``: the Transformer's attention dropout (the attention weights are formed
explicitly instead of ``scaled_dot_product_attention(dropout_p=...)``) and the dropout
between stacked ``nn.GRU``/``nn.LSTM`` layers (the layers run one at a time). This measures
a forward + backward pass of the names presets' modules on a training batch, each path
against the fused one (patched back in), interleaved A B A B, median seconds per pass.

Usage::

    flock /tmp/charzoo-bench.lock python benchmarks/private_dropout_speed.py  # ~2 minutes
    python benchmarks/private_dropout_speed.py --smoke --results /tmp/smoke   # seconds
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import _common
import torch
import torch.nn.functional as F

from charzoo import CharGRU, CharLSTM, CharTransformer
from charzoo.models.rnn import RecurrentModule
from charzoo.models.transformer import CausalSelfAttention
from charzoo.tokenizer import CharTokenizer

NAME = "private_dropout_speed"


@contextmanager
def fused():
    """The fused kernels' dropout (torch's global generator): the baseline."""
    attend, layers = CausalSelfAttention._attend_with_dropout, RecurrentModule._layer_by_layer

    def sdpa(self, q, k, v, mask, causal):
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, dropout_p=self.dropout
        )

    CausalSelfAttention._attend_with_dropout = sdpa
    RecurrentModule._layer_by_layer = lambda self, x, state: self.rnn(x, state)
    try:
        yield
    finally:
        CausalSelfAttention._attend_with_dropout = attend
        RecurrentModule._layer_by_layer = layers


def _module(model):
    model.tokenizer_ = CharTokenizer().fit(["abcdefghijklmnopqrstuvwxyz"])
    return model._build_module().train()


def _pass_seconds(module, batch: torch.Tensor, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        out = module(batch)
        logits = out[0] if isinstance(out, tuple) else out
        logits.float().sum().backward()
    return (time.perf_counter() - start) / calls


def measure(name: str, model, length: int, calls: int, reps: int) -> None:
    torch.manual_seed(0)
    module = _module(model)
    batch = torch.randint(1, 27, (model.batch_size, length))
    times: dict[str, list[float]] = {"fused": [], "private": []}
    for _ in range(reps):
        with fused():
            times["fused"].append(_pass_seconds(module, batch, calls))
        times["private"].append(_pass_seconds(module, batch, calls))
    median = {k: statistics.median(v) for k, v in times.items()}
    _common.emit(
        {
            "model": name,
            "batch": list(batch.shape),
            "dropout": model.dropout,
            "seconds": median["private"],
            "baseline": "fused kernel dropout (global generator)",
            "baseline_seconds": median["fused"],
            "speedup": median["fused"] / median["private"],
            "threads": torch.get_num_threads(),
        },
        NAME,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument(
        "--results", type=Path, default=_common.RESULTS_DIR, help="folder of the .jsonl file"
    )
    args = parser.parse_args(argv)
    _common.RESULTS_DIR = args.results
    torch.set_num_threads(2)
    calls, reps = (1, 1) if args.smoke else (10, 5)
    small = {"batch_size": 4} if args.smoke else {}
    transformer = CharTransformer.from_preset("names", dropout=0.1, **small)
    measure("CharTransformer names preset, dropout=0.1", transformer, 16, calls, reps)
    for cls in (CharGRU, CharLSTM):
        model = cls.from_preset("names", **small)
        if model.dropout == 0:
            model.set_params(dropout=0.3)
        measure(f"{cls.__name__} names preset, dropout={model.dropout}", model, 32, calls, reps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
