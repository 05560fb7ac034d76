"""Quality and speed benchmarks of the sequence models (issue 4).

Each run prints one JSON object per line and appends it to
``benchmarks/results/sequence_models.jsonl``. Runs (pick with ``--runs``):

- ``names-<model>``: the documented defaults fitted on the names split
  (``train_val_test_split(load_names(), random_state=42)``, validation texts = the val split);
  reports the test NLL (nats per character, end marker included).
- ``shakespeare-<model>``: ``Model.from_preset("shakespeare")`` fitted on the first 90% of
  tiny-shakespeare in stream mode (its own last 10% for best-weight selection); reports the
  NLL of the held-out last 10%, scored as one stream with the state carried.
- ``speed-generate``: 1,000 names from a GRU and a Transformer (default sizes, briefly trained)
  with the incremental decoder (carried state / KV cache) versus recomputing the full context
  at every step, side by side.
- ``speed-train``: a fused ``nn.GRU`` CharGRU training step versus the same network with a
  per-timestep Python loop over ``nn.GRUCell`` layers.

Heavy runs share the machine: run them one at a time under the lock, e.g.::

    flock /tmp/charzoo-bench.lock python benchmarks/sequence_models.py --runs names-transformer

``--threads`` sets torch's intra-op threads (default 1: on a shared 2-core machine the small
recurrent kernels are latency bound and OpenMP spinning on a second busy core slows them).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

from charzoo import CharBoW, CharGRU, CharLSTM, CharRNN, CharTransformer
from charzoo.datasets import load_names, load_shakespeare, train_val_test_split
from charzoo.sampler import sample
from charzoo.sequence import FullContextDecoder, SequenceDecoder

sys.path.insert(0, str(Path(__file__).parent))
import _common  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "sequence_models.jsonl"
# issue 4 quality bars: (NLL, seconds); the RNN has no NLL bar ("report")
BARS = {
    "names-transformer": (1.95, 900),
    "names-gru": (1.98, 900),
    "names-lstm": (1.98, 900),
    "names-rnn": (None, 600),
    "names-bow": (None, 900),
    "shakespeare-lstm": (1.65, 900),
    "shakespeare-transformer": (1.60, 900),
}
MODELS = {
    "rnn": CharRNN,
    "gru": CharGRU,
    "lstm": CharLSTM,
    "transformer": CharTransformer,
    "bow": CharBoW,
}


def emit(record: dict) -> None:
    """Print and append one result in the shared format (``benchmarks/_common.py``)."""
    _common.emit(record, RESULTS.stem)


def _plain_params(model) -> dict:
    return {k: v for k, v in model.get_params().items() if _common._plain(v)}


def _quality(model, nll: float, seconds: float, bar_nll: float | None, bar_seconds: float) -> dict:
    return {
        "model": type(model).__name__,
        "params": _plain_params(model),
        "test_nll": nll,
        "perplexity": math.exp(nll),
        "bits_per_char": nll / math.log(2),
        "n_parameters": model.n_parameters_,
        "fit_seconds": seconds,
        "steps": model.n_steps_,
        "best_step": model.best_step_,
        "bar_nll": bar_nll,
        "bar_seconds": bar_seconds,
        "passed": (bar_nll is None or nll <= bar_nll) and seconds <= bar_seconds,
        "val_history": [round(v, 4) for v in model.history_["val_loss"]],
    }


def run_names(name: str, overrides: dict) -> None:
    train, val, test = train_val_test_split(load_names(), random_state=42)
    model = MODELS[name](random_state=0, **overrides)
    start = time.perf_counter()
    model.fit(train, validation_texts=val)
    seconds = time.perf_counter() - start
    nll = math.log(model.score(test))
    emit(
        {
            "run": f"names-{name}",
            "dataset": "names",
            **_quality(model, nll, seconds, *BARS[f"names-{name}"]),
            "val_nll": math.log(model.score(val)),
            "samples": model.generate(5, temperature=0.8),
        }
    )


def run_shakespeare(name: str, overrides: dict) -> None:
    text = load_shakespeare()
    cut = int(0.9 * len(text))
    model = MODELS[name].from_preset("shakespeare", random_state=0, **overrides)
    start = time.perf_counter()
    model.fit([text[:cut]])
    seconds = time.perf_counter() - start
    nll = math.log(model.score([text[cut:]]))
    emit(
        {
            "run": f"shakespeare-{name}",
            "dataset": "tinyshakespeare, last 10% held out (stream)",
            "preset": "shakespeare",
            **_quality(model, nll, seconds, *BARS[f"shakespeare-{name}"]),
            "val_nll": nll,
            "sample": model.generate(1, prefix="ROMEO:", max_length=200, temperature=0.8)[0],
        }
    )


def _time_generation(model, decoder_cls, n: int) -> tuple[float, int]:
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    rows = sample(
        decoder_cls(model.module_),
        torch.empty(0, dtype=torch.long),
        n,
        max(32, 2 * model.max_text_length_),
        stop_at_boundary=True,
        generator=gen,
    )
    return time.perf_counter() - start, sum(len(r) for r in rows)


def run_speed_generate(n: int = 1000) -> None:
    train, _, _ = train_val_test_split(load_names(), random_state=42)
    for cls in (CharGRU, CharTransformer):
        model = cls(max_steps=300, random_state=0).fit(train)
        bar = 10 if cls is CharGRU else 5
        model.module_.eval()
        with torch.no_grad():
            fast, fast_chars = _time_generation(model, SequenceDecoder, n)
            slow, slow_chars = _time_generation(model, FullContextDecoder, n)
        emit(
            {
                "run": "speed-generate",
                "model": f"speed: {cls.__name__} generation",
                "n_names": n,
                "incremental_seconds": round(fast, 3),
                "full_context_seconds": round(slow, 3),
                "speedup": round(slow / fast, 2),
                "same_samples": fast_chars == slow_chars,
                "bar_speedup": bar,
                "passed": slow / fast >= bar,
            }
        )


class LoopGRU(nn.Module):
    """The same network as CharGRU's module, with a Python loop over time and GRU cells."""

    def __init__(self, vocab_size: int, n_embd: int, n_hidden: int, n_layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, n_embd)
        sizes = [n_embd] + [n_hidden] * (n_layers - 1)
        self.cells = nn.ModuleList(nn.GRUCell(s, n_hidden) for s in sizes)
        self.output = nn.Linear(n_hidden, vocab_size)

    def forward(self, idx: torch.Tensor, state=None):
        x = self.embedding(idx)
        h = [x.new_zeros(x.shape[0], cell.hidden_size) for cell in self.cells]
        outputs = []
        for t in range(x.shape[1]):
            inp = x[:, t]
            for i, cell in enumerate(self.cells):
                h[i] = cell(inp, h[i])
                inp = h[i]
            outputs.append(inp)
        return self.output(torch.stack(outputs, 1)), torch.stack(h)


def run_speed_train(steps: int = 20, batch: int = 64, length: int = 128) -> None:
    text = load_shakespeare()[:200000]
    model = CharGRU(max_steps=1, seq_length=length, dropout=0.0, random_state=0).fit([text])
    fused = model.module_
    loop = LoopGRU(model.tokenizer_.vocab_size, model.n_embd, model.n_hidden, model.n_layers)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(1, model.tokenizer_.vocab_size, (batch, length), generator=gen)
    y = torch.randint(1, model.tokenizer_.vocab_size, (batch, length), generator=gen)
    timings = {}
    for label, module in (("fused", fused), ("python_loop", loop)):
        module.train()
        opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
        for i in range(steps + 2):  # two warm-up steps
            if i == 2:
                start = time.perf_counter()
            logits, _ = module(x)
            loss = nn.functional.cross_entropy(logits.transpose(1, 2), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        timings[label] = (time.perf_counter() - start) / steps
    emit(
        {
            "run": "speed-train",
            "model": "speed: CharGRU fused vs loop training step",
            "batch": [batch, length],
            "n_hidden": model.n_hidden,
            "n_layers": model.n_layers,
            "fused_step_seconds": round(timings["fused"], 4),
            "loop_step_seconds": round(timings["python_loop"], 4),
            "speedup": round(timings["python_loop"] / timings["fused"], 2),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["names-transformer"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", nargs="*", default=[], help="param=value overrides (JSON)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    for run in args.runs:
        kind, _, name = run.partition("-")
        if kind == "names":
            run_names(name, overrides)
        elif kind == "shakespeare":
            run_shakespeare(name, overrides)
        elif run == "speed-generate":
            run_speed_generate()
        elif run == "speed-train":
            run_speed_train()
        else:
            raise SystemExit(f"unknown run {run!r}")


if __name__ == "__main__":
    main()
