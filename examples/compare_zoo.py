"""
Comparing the whole zoo
=======================

Fits every registered model, built-in and plugin alike (``charzoo.list_models()``), at a
small size on the bundled names and compares test perplexity against training time: how much
does each architecture buy over counting bigrams, and at what cost?

Run ``python examples/compare_zoo.py`` (two to three minutes on 2 CPU cores); ``--quick`` or
``CHARZOO_QUICK=1`` runs in seconds. Figures go to ``examples/output/``.

.. note::

   The documentation builds this gallery in quick mode: 40 training steps on 2,000 names, a
   smoke run that only shows the example works. Its numbers say nothing about the
   architectures (a Transformer after 40 steps loses to a count bigram). The measured results
   are on the :doc:`model zoo page </zoo>`, generated from ``benchmarks/results/``.
"""

# %%
import os
import sys
import time
from pathlib import Path

import charzoo
from charzoo.datasets import load_names, train_val_test_split

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")

train, val, test = train_val_test_split(load_names(), random_state=42)
if QUICK:
    train, val, test = train[:2000], val[:300], test[:300]

# Small sizes for whichever of these hyperparameters a model has; everything else keeps the
# model's defaults, so a plugin model with other parameters still runs.
SMALL = {
    "n_embd": 24,
    "n_hidden": 96,
    "n_layers": 1,
    "n_heads": 2,
    "seq_length": 32,
    "block_size": 8,
    "max_steps": 40 if QUICK else 1500,
    "eval_interval": 20 if QUICK else 250,
    "random_state": 0,
}


def small_model(name):
    """The registered model ``name`` with the SMALL settings it accepts."""
    model = charzoo.create_model(name)
    params = model.get_params()
    return model.set_params(**{k: v for k, v in SMALL.items() if k in params})


def size(model):
    """Trainable parameters, or the number of stored counts for a count model."""
    if model.n_parameters_:
        return model.n_parameters_
    return sum(t.numel() for t in model.module_.state_dict().values())


# %%
# Fit and score every model. A model that fails is reported and skipped.
rows = []
for name in charzoo.list_models():
    model = small_model(name)
    start = time.perf_counter()
    try:
        model.fit(train, validation_texts=val)
    except Exception as exc:  # a broken plugin should not stop the comparison
        print(f"{name}: failed to fit: {exc!r}")
        continue
    seconds = time.perf_counter() - start
    rows.append((name, type(model).__name__, size(model), seconds, model.score(test)))

if QUICK:
    print("QUICK MODE: a smoke run (40 steps, 2,000 names), not results; see the zoo page")
print(f"\n{'model':<16}{'class':<20}{'size':>10}{'fit s':>9}{'test ppl':>10}")
for name, cls, n, seconds, ppl in sorted(rows, key=lambda r: r[-1]):
    print(f"{name:<16}{cls:<20}{n:>10}{seconds:>9.1f}{ppl:>10.3f}")

# %%
# Perplexity against training time (log scale): lower left is best.
from matplotlib.figure import Figure  # noqa: E402

fig = Figure(figsize=(7, 4.5), layout="constrained")
ax = fig.add_subplot()
for name, _, _, seconds, ppl in rows:
    ax.scatter(seconds, ppl, s=40)
    ax.annotate(name, (seconds, ppl), textcoords="offset points", xytext=(5, 4), fontsize=9)
ax.set_xscale("log")
ax.set_xlabel("training time (s, log scale)")
ax.set_ylabel("test perplexity (lower is better)")
title = f"charzoo models on names ({len(train)} training names)"
if QUICK:
    title = f"SMOKE RUN ({SMALL['max_steps']} steps): not a comparison"
ax.set_title(title)
ax.grid(alpha=0.3, which="both")
OUTPUT.mkdir(parents=True, exist_ok=True)
path = OUTPUT / "compare_zoo.png"
fig.savefig(path, dpi=120)
print(f"saved {path}")
