"""
Any alphabet: Russian names in Cyrillic
=======================================

The tokenizer learns its vocabulary from the training texts, so nothing in charzoo assumes
Latin letters. This example trains on 193 Russian given names in Cyrillic (shipped in
``examples/data/russian_names.txt``, public domain), samples new ones, and shows two Unicode
details: texts are NFC-normalised, so a decomposed ``ё`` (``е`` + combining diaeresis) is the
same character as the composed one, and a character never seen in training is reported by
name.

Run ``python examples/unicode_text.py`` (under a minute on 2 CPU cores); ``--quick`` or
``CHARZOO_QUICK=1`` runs in seconds. Figures go to ``examples/output/``.
"""

# %%
import os
import sys
import unicodedata
from pathlib import Path

from sklearn.model_selection import train_test_split

import charzoo
from charzoo import CharMLP
from charzoo.plotting import plot_embeddings

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
# the folder of this script (sphinx-gallery runs it from there without __file__)
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or HERE / "output")

names = (HERE / "data" / "russian_names.txt").read_text(encoding="utf-8-sig").split()
train, test = train_test_split(names, test_size=0.15, random_state=0)
print(f"{len(train)} training names, {len(test)} test names, e.g. {', '.join(train[:5])}")

# %%
# A smoothed trigram counts model and a small MLP. The vocabulary is whatever the names use.
ngram = charzoo.create_model("ngram", order=3).fit(train)
mlp = CharMLP(
    block_size=3, n_embd=8, n_hidden=64, max_steps=200 if QUICK else 4000, random_state=0
).fit(train)
print(f"vocabulary ({mlp.tokenizer_.vocab_size - 1} characters): {''.join(mlp.tokenizer_.chars)}")
for model in (ngram, mlp):
    print(f"{type(model).__name__}: test perplexity {model.score(test):.2f}")
    print("  samples:", ", ".join(model.generate(10, temperature=0.8, random_state=1)))
print("  names starting with 'Яро':", ", ".join(mlp.generate(5, prefix="Яро", random_state=2)))

# %%
# NFC normalisation: the decomposed spelling scores exactly like the composed one.
composed = "Алёна"
decomposed = unicodedata.normalize("NFD", composed)
print(f"\n{len(composed)} code points vs {len(decomposed)} decomposed")
print(
    f"same log-likelihood: {mlp.score_samples([composed])[0]:.4f} vs "
    f"{mlp.score_samples([decomposed])[0]:.4f}"
)

# %%
# A character the model never saw is named in the error (or dropped with
# ``handle_unknown="ignore"``).
try:
    mlp.score(["Zоя"])  # a Latin Z
except ValueError as exc:
    print(f"\nValueError: {exc}")

# %%
# The embeddings of the Cyrillic characters; vowels tend to gather.
path = OUTPUT / "unicode_text_embeddings.png"
plot_embeddings(mlp, path=path, title="CharMLP embeddings of Cyrillic characters")
print(f"saved {path}")
