"""
Names with the Bengio MLP
=========================

The model of makemore lecture 2 (Bengio et al. 2003) on the bundled names: a train /
validation / test split, the loss curve, the test perplexity, 20 samples at each of the
temperatures 0.5, 1.0 and 1.5 (which of them are novel names and which are copied from the
training set) and the learned character embeddings in 2-D, labelled with the characters.

Run ``python examples/names_mlp.py`` (about a minute on 2 CPU cores); ``--quick`` or
``CHARZOO_QUICK=1`` trains for a few seconds. Figures go to ``examples/output/``.
"""

# %%
import os
import sys
from pathlib import Path

from charzoo import CharMLP
from charzoo.datasets import load_names, train_val_test_split
from charzoo.plotting import plot_embeddings, plot_history

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")

train, val, test = train_val_test_split(load_names(), random_state=42)
if QUICK:  # a smaller validation set is evaluated faster
    val = val[:500]
print(f"{len(train)} training, {len(val)} validation, {len(test)} test names")

# %%
# Train with the validation names held out: the weights with the best validation loss are
# kept. ``n_embd=10`` as in the lecture, so the embedding plot below needs PCA.
model = CharMLP(
    block_size=3,
    n_embd=10,
    n_hidden=200,
    max_steps=300 if QUICK else 20000,
    lr_schedule="step",  # the lecture's decay: learning rate / 10 for the last quarter
    learning_rate=3e-3,
    random_state=0,
)
model.fit(train, validation_texts=val)
print(f"{model.n_parameters_} parameters, {model.n_steps_} steps, best at {model.best_step_}")
print(f"test perplexity: {model.score(test):.3f} (uniform guessing: 27)")

path = OUTPUT / "names_mlp_history.png"
plot_history(model, path=path)
print(f"saved {path}")

# %%
# Samples at three temperatures: low is conservative (common names, often from the training
# set), high is adventurous (novel, sometimes unpronounceable).
seen = set(train)
for temperature in (0.5, 1.0, 1.5):
    samples = model.generate(20, temperature=temperature, random_state=1)
    novel = [s for s in samples if s not in seen]
    print(f"\ntemperature {temperature}: {len(novel)}/20 novel")
    print("  " + " ".join(s if s in seen else s + "*" for s in samples))
print("(* = not in the training set)")

# %%
# The learned 10-dimensional character embeddings, projected on their two principal
# components. Vowels cluster together, as in the lecture.
path = OUTPUT / "names_mlp_embeddings.png"
plot_embeddings(model, path=path)
print(f"saved {path}")
