"""
Dinosaur names with a recurrent network
=======================================

The classic "dinosaur island" exercise: a character-level vanilla RNN learns the bundled
dinosaur genus names (lower-cased), with the gradient norm clipped so the recurrent gradients
cannot explode, and prints a few sampled names every ``N`` steps through a training callback,
so you can watch them go from noise to plausible "-saurus" names.

Run ``python examples/dinosaurs_rnn.py`` (about a minute on 2 CPU cores); ``--quick`` or
``CHARZOO_QUICK=1`` runs in seconds. Figures go to ``examples/output/``.
"""

# %%
import os
import sys
from pathlib import Path

from charzoo import CharRNN
from charzoo.datasets import load_dinos
from charzoo.plotting import plot_history

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")

dinos = [name.lower() for name in load_dinos()]
print(f"{len(dinos)} dinosaur names, e.g. {', '.join(dinos[:4])}")


# %%
# A callback is called as ``callback(estimator, record)`` after every evaluation (every
# ``eval_interval`` steps); here it samples from the model trained so far: at the first
# evaluation (still close to noise), then every ``show_every`` steps.
steps = 150 if QUICK else 3000
eval_interval = 10 if QUICK else 50
show_every = 50 if QUICK else 500


def show_samples(model, record):
    step = record["step"]
    if step != eval_interval and step % show_every:
        return
    samples = model.generate(4, temperature=0.8, random_state=step)
    print(
        f"step {step:>5}  train {record['train_loss']:.3f}  val {record['val_loss']:.3f}  "
        f"{' '.join(samples)}"
    )


# Validation loss picks the weights: the best ones are kept, and training stops after
# ``n_iter_no_change`` evaluations without improvement (early stopping), so a rising
# validation loss (over-fitting the 1,500 names) is cut short and reported below.
model = CharRNN(
    n_embd=32,
    n_hidden=128,
    n_layers=1,
    dropout=0.0,
    grad_clip=5.0,  # clip the global gradient norm, as in the exercise
    learning_rate=3e-3,
    batch_size=32,
    max_steps=steps,
    eval_interval=eval_interval,
    n_iter_no_change=10,
    callbacks=[show_samples],
    validation_fraction=0.1,
    random_state=0,
)
model.fit(dinos)
val = [v for v in model.history_["val_loss"] if v is not None]
print(
    f"stopped: {model.stop_reason_} at step {model.n_steps_}; kept the weights of step "
    f"{model.best_step_} (best validation loss {min(val):.3f}, last {val[-1]:.3f})"
)

# %%
seen = set(dinos)
samples = model.generate(12, temperature=0.8, random_state=7)
print("\nfinal samples (* = new):", " ".join(s if s in seen else s + "*" for s in samples))
path = OUTPUT / "dinosaurs_rnn_history.png"
plot_history(model, path=path, title="CharRNN on dinosaur names")
print(f"saved {path}")
