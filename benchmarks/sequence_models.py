"""Quality and speed benchmarks of the sequence models.

Each run prints one JSON object per line and appends it to
``benchmarks/results/sequence_models.jsonl``. Runs (pick with ``--runs``):

- ``names-<model>``: the documented defaults fitted on the names split
  (``train_val_test_split(load_names(), random_state=42)``, validation texts = the val split);
  reports the test NLL (nats per character, end marker included).
- ``shakespeare-<model>``: ``Model.from_preset("shakespeare")`` fitted on the first 90% of
  tiny-shakespeare in stream mode (all of it: ``validation_fraction=0``, nanoGPT's split);
  reports the NLL of the held-out last 10%, scored as one stream with the state carried.
- ``speed-generate``: 1,000 names from a GRU and a Transformer (default sizes, briefly trained)
  with the incremental decoder (carried state / KV cache) versus makemore's ``generate`` loop
  (fixed steps, whole context recomputed) and versus the same sampler recomputing the whole
  context (the cache alone); then 64 x 256 characters of stream text, cache against full
  context.
- ``speed-train``: a fused ``nn.GRU`` CharGRU training step versus the same network with a
  per-timestep Python loop over ``nn.GRUCell`` layers and over the lecture's hand-written
  cells, at three sizes.

Heavy runs share the machine: run them one at a time under the lock, e.g.::

    flock /tmp/charzoo-bench.lock python benchmarks/sequence_models.py --runs names-transformer

``--threads`` sets torch's intra-op threads (default 2, the budget's "2 cores"; run under the
lock: OpenMP threads spinning on a core that another process holds slow everything down).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import _common
import torch
from baselines import lecture_pytorch as baseline
from torch import nn

from charzoo import CharBoW, CharGRU, CharLSTM, CharRNN, CharTransformer
from charzoo.datasets import load_names, load_shakespeare, train_val_test_split
from charzoo.models.rnn import RecurrentModule
from charzoo.sampler import sample
from charzoo.sequence import FullContextDecoder, SequenceDecoder

RESULTS = Path(__file__).parent / "results" / "sequence_models.jsonl"
# quality bars: (NLL, seconds); the RNN has no NLL bar ("report")
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
        **_common.quality(nll=nll),
        "n_parameters": model.n_parameters_,
        "fit_seconds": seconds,
        "steps": model.n_steps_,
        "best_step": model.best_step_,
        "bar_nll": bar_nll,
        "bar_seconds": bar_seconds,
        "passed": (bar_nll is None or nll <= bar_nll) and seconds <= bar_seconds,
        "val_history": [v if v is None else round(v, 4) for v in model.history_["val_loss"]],
        "train_history": [round(v, 4) for v in model.history_["train_loss"]],
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
    # nanoGPT's split: train on all of the first 90%, no part of it held back for validation
    # (the estimator would otherwise hold back its last tenth, which starts the play that the
    # held-out part continues); the final weights are scored
    params = {"validation_fraction": 0.0, **overrides}
    model = MODELS[name].from_preset("shakespeare", random_state=0, **params)
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


def _time_generation(
    module, decoder_cls, n: int, max_new: int, stop: bool = True
) -> tuple[float, list[list[int]]]:
    """Seconds to sample ``n`` rows with ``decoder_cls`` (seed 0), and the rows."""
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    rows = sample(
        decoder_cls(module),
        torch.empty(0, dtype=torch.long),
        n,
        max_new,
        stop_at_boundary=stop,
        generator=gen,
    )
    return time.perf_counter() - start, rows


def _time_makemore(module, n: int, steps: int) -> tuple[float, list[list[int]]]:
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    rows = baseline.generate_batch_full_context(
        module, n, steps, getattr(module, "block_size", None), gen
    )
    return time.perf_counter() - start, rows


def run_speed_generate(n: int = 1000, reps: int = 3) -> None:
    """1,000 names: the incremental decoder (``generate``'s path) against makemore's
    ``generate`` loop (the bar: all rows, a fixed ``max name length + 1`` steps, the whole
    context recomputed each step) and against the same sampler as ours with the full context
    recomputed (the cache alone: ended rows are dropped in both). Then 64 rows x 256
    characters of stream text, where the cache alone matters more: ours against the full
    context through the same sampler. Each figure is the median of ``reps`` alternated runs."""
    train, _, _ = train_val_test_split(load_names(), random_state=42)
    stream = load_shakespeare()[:200000]
    for cls in (CharGRU, CharTransformer):
        model = cls(max_steps=300, random_state=0).fit(train)
        module = model.module_.eval()
        max_new = max(32, 2 * model.max_text_length_)
        steps = model.max_text_length_ + 1
        runs: dict[str, list] = {"ours": [], "makemore": [], "full_context": []}
        with torch.no_grad():
            for _ in range(reps):
                runs["ours"].append(_time_generation(module, SequenceDecoder, n, max_new))
                runs["makemore"].append(_time_makemore(module, n, steps))
                runs["full_context"].append(
                    _time_generation(module, FullContextDecoder, n, max_new)
                )
        med = {k: statistics.median(t for t, _ in v) for k, v in runs.items()}
        bar = 10 if cls is CharGRU else 5
        emit(
            {
                "run": "speed-generate",
                "model": f"speed: {cls.__name__} generation",
                "n_names": n,
                "incremental_seconds": round(med["ours"], 4),
                "makemore_seconds": round(med["makemore"], 4),
                "full_context_seconds": round(med["full_context"], 4),
                "speedup": round(med["makemore"] / med["ours"], 2),
                "speedup_cache_only": round(med["full_context"] / med["ours"], 2),
                "makemore_steps": steps,
                # same seed and sampler: the cache must not change a single sample
                "same_samples": runs["ours"][0][1] == runs["full_context"][0][1],
                "bar_speedup": bar,
                "passed": med["makemore"] / med["ours"] >= bar,
                "runs": {k: [round(t, 4) for t, _ in v] for k, v in runs.items()},
            }
        )
        long_model = cls(max_steps=100, random_state=0).fit([stream])
        module = long_model.module_.eval()
        times: dict[str, list] = {"ours": [], "full_context": []}
        with torch.no_grad():
            for _ in range(reps):
                times["ours"].append(_time_generation(module, SequenceDecoder, 64, 256, False)[0])
                times["full_context"].append(
                    _time_generation(module, FullContextDecoder, 64, 256, False)[0]
                )
        med = {k: statistics.median(v) for k, v in times.items()}
        emit(
            {
                "run": "speed-generate-stream",
                "model": f"speed: {cls.__name__} stream generation",
                "rows": 64,
                "characters": 256,
                "context_limit": getattr(module, "block_size", None),
                "incremental_seconds": round(med["ours"], 4),
                "full_context_seconds": round(med["full_context"], 4),
                "speedup_cache_only": round(med["full_context"] / med["ours"], 2),
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


# (label, n_embd, n_hidden, n_layers, batch, length): makemore's GRU at its defaults, and
# CharGRU's default size on names-length and on stream-length windows
TRAIN_SIZES = (
    ("makemore size (64/64, 1 layer), batch 32 x 16", 64, 64, 1, 32, 16),
    ("CharGRU defaults (64/256, 2 layers), batch 128 x 16 (names)", 64, 256, 2, 128, 16),
    ("CharGRU defaults (64/256, 2 layers), batch 64 x 128 (stream)", 64, 256, 2, 64, 128),
)


def _step_seconds(module, x, y, steps: int) -> float:
    """Median seconds of a full training step (forward, loss, backward, AdamW)."""
    module.train()
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
    times = []
    for i in range(steps + 2):  # two warm-up steps
        start = time.perf_counter()
        out = module(x)
        logits = out[0] if isinstance(out, tuple) else out
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_speed_train(steps: int = 20) -> None:
    """CharGRU's fused ``nn.GRU`` module against per-timestep Python loops of the same size:
    over ``nn.GRUCell`` layers, and over the hand-written cells of the lecture baseline."""
    vocab = 65
    for label, n_embd, n_hidden, n_layers, batch, length in TRAIN_SIZES:
        torch.manual_seed(0)
        fused = RecurrentModule("gru", vocab, n_embd, n_hidden, n_layers, 0.0)
        cells = LoopGRU(vocab, n_embd, n_hidden, n_layers)
        lecture = baseline.LectureRecurrent("gru", vocab, n_embd, n_hidden, n_layers, 0.0)
        gen = torch.Generator().manual_seed(0)
        x = torch.randint(1, vocab, (batch, length), generator=gen)
        y = torch.randint(1, vocab, (batch, length), generator=gen)
        runs: dict[str, list] = {"fused": [], "grucell_loop": [], "lecture_loop": []}
        for _ in range(3):  # alternate so background load hits all alike
            runs["fused"].append(_step_seconds(fused, x, y, steps))
            runs["grucell_loop"].append(_step_seconds(cells, x, y, steps))
            runs["lecture_loop"].append(_step_seconds(lecture, x, y, steps))
        med = {k: statistics.median(v) for k, v in runs.items()}
        emit(
            {
                "run": "speed-train",
                "model": "speed: CharGRU fused vs loop training step",
                "size": label,
                "batch": [batch, length],
                "n_hidden": n_hidden,
                "n_layers": n_layers,
                "fused_step_seconds": round(med["fused"], 5),
                "loop_step_seconds": round(med["grucell_loop"], 5),
                "lecture_loop_step_seconds": round(med["lecture_loop"], 5),
                "speedup": round(med["grucell_loop"] / med["fused"], 2),
                "speedup_vs_lecture_cell": round(med["lecture_loop"] / med["fused"], 2),
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["names-transformer"])
    parser.add_argument("--threads", type=int, default=2)
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
