"""
Which model for my data?
========================

Fits a few zoo models on one corpus, then a :class:`~charzoo.models.mixture.CharMixture` of
them, and ranks them all by test bits per character, with their size and training time: the
answer to "which model should I use for my data?" is measured, not guessed.

The corpus is split 80/10/10 (train, validation, test). Every model is fitted on the training
part with one shared tokenizer (``fit(..., tokenizer=...)``), so the mixture can combine them
(``prefit=True``): it only learns its weights on the validation part. The test part is scored
once, at the end.

Run ``python examples/which_model.py [CORPUS]``, where CORPUS is ``dinos`` (default),
``names`` or a UTF-8 text file with one text per line (a few minutes on 2 CPU cores for
dinos); ``--quick`` or ``CHARZOO_QUICK=1`` runs in seconds. Figures go to
``examples/output/``.
"""

# %%
import math
import os
import sys
import time
from pathlib import Path

from charzoo import CharGRU, CharMLP, CharNGram, CharTokenizer, CharTransformer
from charzoo.datasets import load_dinos, load_names, train_val_test_split
from charzoo.models.mixture import CharMixture

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
CORPUS = ARGS[0] if ARGS else "dinos"

if CORPUS in ("dinos", "names"):
    texts = load_dinos() if CORPUS == "dinos" else load_names()
else:
    lines = Path(CORPUS).read_text(encoding="utf-8").splitlines()
    texts = [line.strip() for line in lines if line.strip()]
train, val, test = train_val_test_split(texts, random_state=0)
if QUICK:
    train, val, test = train[:600], val[:100], test[:100]
print(f"corpus {CORPUS}: {len(train)} train, {len(val)} validation, {len(test)} test texts")

# %%
# The candidates: two count models (instant) and three small neural models. Every one gets the
# same tokenizer, learned from the training texts.
steps = 20 if QUICK else 1000
width = 16 if QUICK else 128  # hidden size of the neural models
candidates = {
    "3-gram": CharNGram(order=3),
    "5-gram": CharNGram(order=5),
    "mlp": CharMLP(block_size=5, n_embd=16, n_hidden=width, max_steps=4 * steps),
    "gru": CharGRU(n_embd=width // 4, n_hidden=width, max_steps=steps),
    "transformer": CharTransformer(n_layers=2, n_heads=2, n_embd=width // 2, max_steps=steps),
}
tokenizer = CharTokenizer().fit(train)
rows = []  # (name, model, bits per char, size, fit seconds)


def size(model):
    """Trainable parameters, or the number of stored counts for a count model."""
    if model.n_parameters_:
        return model.n_parameters_
    return sum(t.numel() for t in model.module_.state_dict().values())


def bits_per_char(model):
    return math.log2(model.score(test))


for name, model in candidates.items():
    model.set_params(random_state=0)
    start = time.perf_counter()
    model.fit(train, validation_texts=val, tokenizer=tokenizer)
    seconds = time.perf_counter() - start
    rows.append((name, model, bits_per_char(model), size(model), seconds))

# %%
# The mixture: a weighted average of the members' next-character distributions, the weights
# learned by EM on the validation texts.
start = time.perf_counter()
mixture = CharMixture([(name, model) for name, model in candidates.items()], prefit=True)
mixture.fit(val)
seconds = sum(r[4] for r in rows) + time.perf_counter() - start
rows.append(("mixture", mixture, bits_per_char(mixture), sum(r[3] for r in rows), seconds))
print("mixture weights: " + ", ".join(f"{n} {w:.2f}" for n, w in zip(candidates, mixture.weights_)))

# %%
# The leaderboard, best first.
rows.sort(key=lambda r: r[2])
print(f"\n{'rank':<6}{'model':<14}{'bits/char':>10}{'size':>10}{'fit s':>9}")
for rank, (name, _, bits, n, seconds) in enumerate(rows, 1):
    print(f"{rank:<6}{name:<14}{bits:>10.4f}{n:>10}{seconds:>9.1f}")
best_single = min((r for r in rows if r[0] != "mixture"), key=lambda r: r[2])
print(f"best: {rows[0][0]} ({rows[0][2]:.4f} bits/char); best single model: {best_single[0]}")
print("samples from the mixture:", ", ".join(mixture.generate(5, random_state=0)))

# %%
# Bits per character (lower is better) against training time; the size is in the label.
from matplotlib.figure import Figure  # noqa: E402

fig = Figure(figsize=(7, 4.5), layout="constrained")
ax = fig.add_subplot()
for name, _, bits, n, seconds in rows:
    ax.scatter(seconds, bits, s=60 if name == "mixture" else 40)
    ax.annotate(
        f"{name} ({n:,})", (seconds, bits), textcoords="offset points", xytext=(5, 4), fontsize=9
    )
ax.set_xscale("log")
ax.set_xlabel("training time (s, log scale)")
ax.set_ylabel("test bits per character (lower is better)")
ax.set_title(f"Which model for {CORPUS}? ({len(train)} training texts)")
ax.grid(alpha=0.3, which="both")
OUTPUT.mkdir(parents=True, exist_ok=True)
path = OUTPUT / "which_model.png"
fig.savefig(path, dpi=120)
print(f"saved {path}")
