"""
Which kind of word is this? Classifying words by their spelling
===============================================================

:class:`~charzoo.CharLMClassifier` fits one character language model per class and gives a
word to the class whose model finds it most likely. Here the classes are three kinds of word
shipped with charzoo: English words from Shakespeare, given names, and dinosaur names
(Latinised Greek). The same code identifies the language of single words:
``benchmarks/classify.py`` does it for 12 languages with word lists from ``wordfreq``.

The classifier is compared, on the same split, with the usual scikit-learn baseline (TF-IDF
of character 1-5-grams + logistic regression), and its confusion matrix is plotted.

Run ``python examples/classify_words.py`` (under a minute on 2 CPU cores); ``--quick`` or
``CHARZOO_QUICK=1`` uses fewer words.
"""

# %%
import os
import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from charzoo import CharLMClassifier
from charzoo.datasets import load_dinos, load_names, load_shakespeare

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or HERE / "output")
N = 400 if QUICK else 1500  # words per class

# %%
# Three lists of lower-case words; a word found in two lists is dropped from both.
english = sorted({w for w in re.findall(r"[a-z]{4,}", load_shakespeare().lower())})
lists = {"english word": english, "given name": load_names(), "dinosaur": load_dinos()}
counts: dict[str, int] = {}
for words in lists.values():
    for w in set(words):
        counts[w] = counts.get(w, 0) + 1
X, y = [], []
for label, words in lists.items():
    unique = sorted({w for w in words if counts[w] == 1})
    chosen, _ = train_test_split(unique, train_size=min(N, len(unique) - 1), random_state=0)
    X += chosen
    y += [label] * len(chosen)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)  # fmt: skip
print(f"{len(X_train)} training words, {len(X_test)} test words, 3 classes")

# %%
# One Kneser-Ney 6-gram per class on a shared vocabulary (the default), calibrated on
# cross-fitted scores; and the TF-IDF + logistic regression baseline.
clf = CharLMClassifier(random_state=0).fit(X_train, y_train)
tfidf = make_pipeline(
    TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True),
    LogisticRegression(C=10, max_iter=2000),
).fit(X_train, y_train)
for name, model in [("CharLMClassifier", clf), ("TF-IDF + LR", tfidf)]:
    proba = model.predict_proba(X_test)
    accuracy = accuracy_score(y_test, model.predict(X_test))
    print(f"{name:17s} accuracy {accuracy:.3f}  log-loss {log_loss(y_test, proba):.3f}")
print(f"temperature {clf.temperature_:.2f}, classes {clf.classes_.tolist()}")

# %%
# New words, never seen in training, with the probability of each class.
for word in ["quixotically", "xenosaurus", "jennifer", "sunbeam", "brontolux"]:
    probs = ", ".join(f"{c} {p:.2f}" for c, p in zip(clf.classes_, clf.predict_proba([word])[0]))
    print(f"{word:14s} -> {clf.predict([word])[0]:13s} ({probs})")

# %%
# Where the classifier errs: English words and given names share a spelling system.
fig, ax = plt.subplots(figsize=(5.5, 4.5))
ConfusionMatrixDisplay.from_predictions(
    y_test, clf.predict(X_test), normalize="true", values_format=".2f", ax=ax, colorbar=False
)
ax.set_title("CharLMClassifier: true class vs predicted")
fig.tight_layout()
OUTPUT.mkdir(parents=True, exist_ok=True)
path = OUTPUT / "classify_words.png"
fig.savefig(path, dpi=120)
print(f"saved {path}")
