"""
Grid search across architectures
================================

Every charzoo model is a scikit-learn estimator, so ``GridSearchCV`` searches its
hyperparameters, and wrapping it in a one-step ``Pipeline`` lets the search swap the
architecture itself. Two things matter:

* ``score`` returns perplexity, where lower is better, but scikit-learn maximises scores:
  always pass ``scoring=charzoo.metrics.perplexity_scorer`` (minus the perplexity);
* ``n_jobs`` fits the candidates in parallel processes.

The results are printed as a table and validation perplexity is plotted against the number of
parameters.

Run ``python examples/grid_search.py`` (two to three minutes on 2 CPU cores); ``--quick`` or
``CHARZOO_QUICK=1`` runs in seconds. Figures go to ``examples/output/``.
"""

# %%
import os
import sys
from pathlib import Path

from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from charzoo import CharBigram, CharMLP
from charzoo.datasets import load_names, train_val_test_split
from charzoo.metrics import perplexity_scorer

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")

train, _, test = train_val_test_split(load_names(), random_state=42)
train = train[:1500] if QUICK else train[:12000]
steps = 60 if QUICK else 2500


def n_parameters(pipeline, X, y=None):
    """A 'scorer' recording the size of each candidate: trainable parameters or counts."""
    model = pipeline[-1]
    return model.n_parameters_ or sum(t.numel() for t in model.module_.state_dict().values())


# %%
# One grid per architecture; ``model`` is the step being swapped.
param_grid = [
    {"model": [CharBigram()], "model__alpha": [0.1, 1.0]},
    {
        "model": [CharMLP(max_steps=steps, random_state=0)],
        "model__block_size": [2, 3] if QUICK else [2, 3, 5],
        "model__n_hidden": [32, 200],
    },
]
search = GridSearchCV(
    Pipeline([("model", CharBigram())]),
    param_grid,
    scoring={"perplexity": perplexity_scorer, "size": n_parameters},
    refit="perplexity",
    cv=2 if QUICK else 3,
    n_jobs=1 if QUICK else 2,  # quick: worker processes would cost more to start than to run
)
search.fit(train)

# %%
# The results table, best first. ``mean_test_perplexity`` is minus the perplexity.
results = search.cv_results_
rows = []
for i, params in enumerate(results["params"]):
    model = params["model"]
    hyper = {k.removeprefix("model__"): v for k, v in params.items() if k != "model"}
    label = type(model).__name__ + "(" + ", ".join(f"{k}={v}" for k, v in hyper.items()) + ")"
    rows.append((-results["mean_test_perplexity"][i], int(results["mean_test_size"][i]), label))
rows.sort()
print(f"{'validation ppl':>15}{'size':>9}  candidate")
for ppl, size, label in rows:
    print(f"{ppl:>15.3f}{size:>9}  {label}")
print(f"\nbest: {rows[0][2]}")
print(f"test perplexity of the refitted best model: {search.best_estimator_.score(test):.3f}")

# %%
# Validation perplexity against model size.
from matplotlib.figure import Figure  # noqa: E402

fig = Figure(figsize=(7, 4.5), layout="constrained")
ax = fig.add_subplot()
for family, marker in (("CharBigram", "s"), ("CharMLP", "o")):
    points = [(size, ppl, label) for ppl, size, label in rows if label.startswith(family)]
    ax.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, label=family)
    for size, ppl, label in points:
        short = label[len(family) + 1 : -1]
        ax.annotate(short, (size, ppl), textcoords="offset points", xytext=(4, 4), fontsize=7)
ax.set_xscale("log")
ax.set_xlabel("parameters (log scale)")
ax.set_ylabel("cross-validated perplexity (lower is better)")
ax.set_title("GridSearchCV over architectures and hyperparameters")
ax.grid(alpha=0.3, which="both")
ax.legend()
OUTPUT.mkdir(parents=True, exist_ok=True)
path = OUTPUT / "grid_search.png"
fig.savefig(path, dpi=120)
print(f"saved {path}")
