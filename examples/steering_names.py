"""
Names you can steer: constraints and most likely completions
=============================================================

Fantasy and brand names with constraints (length, start, end, contents, a regular
expression, none of the training names), the most likely completions of a prefix, and why
conditioning matters: the length distribution of names ending in "y" drawn by charzoo's
conditional sampler, by local masking (forbid the characters that break the constraint at
each step) and by the model itself (rejection: sample freely, keep the names ending in "y").

Run ``python examples/steering_names.py`` (about half a minute on 2 CPU cores); ``--quick``
or ``CHARZOO_QUICK=1`` draws fewer samples. Figures go to ``examples/output/``.
"""

# %%
import collections
import os
import sys
from pathlib import Path

import matplotlib.pyplot as plt

from charzoo import CharNGram
from charzoo.constraints import Constraints
from charzoo.datasets import load_names
from charzoo.steered import constrained_sample

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)

names = load_names()
model = CharNGram(order=4, random_state=0).fit(names)  # closed-form fit: a second

# %%
# A fantasy name: 6 to 8 letters, starting with "b", ending in "ia", containing "ar", and
# none of the 32,000 training names. Every constraint is about the whole name.
fantasy = model.generate(
    8, length="6-8", starts_with="b", ends_with="ia", contains="ar", exclude=names
)
print("fantasy names:", " ".join(fantasy))

# %%
# Brand-like names from a regular expression (matched in full): a vowel start and a "-ly",
# "-io" or "-ix" ending, 5 to 7 letters, no double letters "ee" or "oo".
brands = model.generate(
    8,
    pattern="[aeiou][a-z]*(ly|io|ix)",
    length=(5, 7),
    not_contains=["ee", "oo"],
    exclude=names,
    random_state=1,
)
print("brand names:  ", " ".join(brands))

# %%
# Autocomplete: the five most likely complete names starting with a prefix, with their
# log-probabilities. The search is exact: nothing it has not returned is more likely.
for prefix in ("ma", "kri"):
    texts, log_probs = model.most_likely(5, prefix=prefix, return_scores=True)
    shown = ", ".join(f"{t} ({lp:.2f})" for t, lp in zip(texts, log_probs))
    print(f"most likely after {prefix!r}: {shown}")

# %%
# Conditioning versus masking. The model's own names ending in "y" come from rejection:
# sample freely and keep those ending in "y". The conditional sampler should match them;
# local masking does not: it lets a name go on as long as it likes and forces the "y" in
# when the length runs out, so it produces too many long names.
n = 2000 if QUICK else 10000
free = [t for t in model.generate(10 * n, random_state=2) if t.endswith("y")]
spec = Constraints.from_args(ends_with="y")
conditional = model.generate(n, ends_with="y", random_state=3)
masked = constrained_sample(model, n, "", 1.0, None, None, None, 4, spec, method="mask")
print(f"rejection kept {len(free)} of {10 * n} free samples (those ending in 'y')")

lengths = range(2, 13)
fig, ax = plt.subplots(figsize=(7, 3.5))
for k, (label, texts) in enumerate(
    [("the model's own (rejection)", free), ("conditional", conditional), ("masked", masked)]
):
    counts = collections.Counter(len(t) for t in texts)
    mean = sum(len(t) for t in texts) / len(texts)
    print(f"{label:28s} mean length {mean:.2f}")
    share = [counts.get(length, 0) / len(texts) for length in lengths]
    ax.bar([x + (k - 1) * 0.27 for x in lengths], share, width=0.27, label=label)
ax.set_xlabel("length of the name")
ax.set_ylabel("share of samples")
ax.set_title('Names ending in "y": length distribution')
ax.legend()
fig.tight_layout()
path = OUTPUT / "steering_lengths.png"
fig.savefig(path, dpi=100)
print(f"saved {path}")
