"""
Generating Python code
======================

Every Python installation holds a large corpus of real source code: the standard library and
the installed packages. :func:`charzoo.datasets.load_python_source` collects a seeded selection
of those files (no download), which we split 90/10 *by file*, so the held-out files are code
the model never saw.

The training files are joined into one stream, written once to an encoded ``.czb`` file (the
character ids, one byte each here) and the Transformer trains on the memory-mapped file,
as it would on a corpus larger than memory (``charzoo encode corpus.txt -o corpus.czb`` does
the same from the command line). A 5-gram count model trained on the same stream is the
baseline. Then the model writes functions: every sample starts from ``"def "``, and we check
how many of them Python can parse.

Run ``python examples/code_generation.py`` (1,500 Transformer steps: minutes on 2 CPU
cores); ``--quick`` or ``CHARZOO_QUICK=1`` runs in seconds. The selection, and so the numbers,
depend on what is installed. Figures go to ``examples/output/``.
"""

# %%
import ast
import math
import os
import sys
from pathlib import Path

from charzoo import CharNGram, CharTransformer
from charzoo.datasets import load_python_source
from charzoo.encoded import write_encoded
from charzoo.plotting import plot_history

QUICK = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
OUTPUT = Path(os.environ.get("CHARZOO_OUTPUT") or Path(__file__).resolve().parent / "output")
OUTPUT.mkdir(parents=True, exist_ok=True)

files = load_python_source(max_bytes=300_000 if QUICK else 5_000_000, random_state=0)
cut = int(0.9 * len(files))
train, held_out = "\n".join(files[:cut]), "\n".join(files[cut:])[:50_000]
print(f"{len(files)} files: {len(train):,} training characters, {len(held_out):,} held out")

# %%
corpus = write_encoded(train, OUTPUT / "python_source.czb")
print(f"encoded: {corpus} ({corpus.ids.dtype}, {corpus.ids.nbytes:,} bytes of ids)")

model = CharTransformer(
    n_embd=48 if QUICK else 128,
    n_layers=2 if QUICK else 3,
    n_heads=4,
    block_size=64 if QUICK else 128,
    batch_size=16 if QUICK else 32,
    max_steps=60 if QUICK else 1500,
    learning_rate=3e-3 if QUICK else 1e-3,
    handle_unknown="ignore",  # held-out files may hold characters the training files lack
    random_state=0,
)
model.fit(corpus)
baseline = CharNGram(order=5, handle_unknown="ignore").fit(corpus)
for name, fitted in [("transformer", model), ("5-gram", baseline)]:
    bpc = math.log2(fitted.score([held_out]))
    print(f"{name:12s} held-out bits per character: {bpc:.3f}")


# %%
def first_function(sample):
    """The sample up to the end of its first function: the first non-empty line after the
    ``def`` line that is not indented."""
    lines = sample.split("\n")
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() and not line[0].isspace():
            return "\n".join(lines[:i]).rstrip()
    return sample.rstrip()


def parses(code):
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


samples = model.generate(8, prefix="def ", temperature=0.8, max_length=400, random_state=0)
functions = [first_function(s) for s in samples]
valid = sum(parses(f) for f in functions)
print(f"\n{valid}/{len(functions)} sampled functions parse; the first two:")
for code in functions[:2]:
    print("-" * 60)
    print(code)

path = OUTPUT / "code_generation_history.png"
plot_history(model, path=path, title="CharTransformer on Python source (stream mode)")
print(f"\nsaved {path}")
