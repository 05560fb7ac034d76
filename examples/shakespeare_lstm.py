"""
Shakespeare with an LSTM in stream mode
=======================================

``fit([corpus])`` with a single long text trains in *stream mode*: the model learns one
continuous stream of characters instead of separate documents. With
``stream_sampling="adjacent"`` each batch row reads consecutive windows of the text and the
LSTM state is carried from one window to the next (detached: truncated back-propagation
through time, as in char-rnn), so the model learns dependencies longer than one window.

Generation continues a prefix. At temperature 1.0 the text is varied; at 0.1 sampling is
nearly greedy and falls into loops: the same few words and lines repeat, which the
repeated-8-gram share below measures.

Run ``python examples/shakespeare_lstm.py`` (two to three minutes on 2 CPU cores); ``--quick``
or ``CHARZOO_QUICK=1`` runs in seconds. Figures go to ``examples/output/``.
"""

# %%
import os
import sys
from pathlib import Path

from charzoo import CharLSTM
from charzoo.datasets import load_shakespeare
from charzoo.plotting import plot_history

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")

text = load_shakespeare()
if QUICK:
    text = text[:60000]
print(f"{len(text):,} characters, {len(set(text))} distinct")

# %%
model = CharLSTM(
    n_embd=48,
    n_hidden=256 if not QUICK else 64,
    n_layers=1,
    dropout=0.0,
    seq_length=64,
    batch_size=32,
    stream_sampling="adjacent",
    max_steps=80 if QUICK else 2000,
    learning_rate=5e-3,
    validation_fraction=0.05,  # the last 5% of the text
    random_state=0,
)
model.fit([text])
print(f"mode: {model.mode_}, {model.n_parameters_:,} parameters, {model.n_steps_} steps")
print(f"validation perplexity per character: {model.score([text[-len(text) // 20 :]]):.2f}")


def repeated_share(sample, n=8):
    """Share of the sample's character n-grams that already occurred earlier in it."""
    grams = [sample[i : i + n] for i in range(len(sample) - n + 1)]
    return 1 - len(set(grams)) / max(1, len(grams))


# %%
for temperature in (1.0, 0.1):
    (sample,) = model.generate(
        1, prefix="ROMEO:\n", temperature=temperature, max_length=300, random_state=0
    )
    print(f"\n--- temperature {temperature}: {repeated_share(sample):.0%} repeated 8-grams ---")
    print(sample)

path = OUTPUT / "shakespeare_lstm_history.png"
plot_history(model, path=path, title="CharLSTM on tiny-shakespeare (stream mode)")
print(f"\nsaved {path}")
