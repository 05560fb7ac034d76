"""
Finding a learning rate
=======================

makemore lecture 2 finds its learning rate by training once while the rate grows
exponentially, ``10 ** linspace(-3, 0)``, one rate per minibatch, and reading the loss curve:
flat at tiny rates, falling fastest in a useful range, exploding when the rate is too large.
:func:`charzoo.lr_find` runs that sweep for any neural model and suggests a rate; this example
plots it and then checks the suggestion by training at a tenth of it, at it, and at ten times
it.

Run ``python examples/learning_rate_finder.py`` (about a minute on 2 CPU cores); ``--quick``
or ``CHARZOO_QUICK=1`` runs in seconds. Figures go to ``examples/output/``.
"""

# %%
import os
import sys
from pathlib import Path

from charzoo import CharMLP, lr_find
from charzoo.datasets import load_names, train_val_test_split
from charzoo.plotting import plot_lr_find

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")

train, val, _ = train_val_test_split(load_names(), random_state=42)
if QUICK:
    train, val = train[:2000], val[:300]

# %%
# The sweep: ``n_steps`` minibatches, the rate going from 1e-3 to 1 (the lecture's range).
# It stops early once the loss has clearly exploded.
model = CharMLP(block_size=3, n_embd=10, n_hidden=200, random_state=0)
result = lr_find(model, train, n_steps=100 if QUICK else 1000)
print(f"swept {len(result.rates)} rates from {result.rates[0]:.0e} to {result.rates[-1]:.2g}")
print(f"suggested learning rate: {result.suggested_lr:.2g}")

path = OUTPUT / "learning_rate_finder.png"
plot_lr_find(result, path=path, title="CharMLP on names: learning-rate sweep")
print(f"saved {path}")

# %%
# Does the suggestion hold up? Train at a tenth of it, at it and at ten times it.
steps = 100 if QUICK else 3500
for factor in (0.1, 1.0, 10.0):
    rate = result.suggested_lr * factor
    fitted = CharMLP(learning_rate=rate, max_steps=steps, random_state=0)
    fitted.fit(train, validation_texts=val)
    print(f"learning_rate={rate:.2g}: validation perplexity {fitted.score(val):.3f}")
