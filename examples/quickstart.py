"""Train the Bengio MLP on the bundled names, print samples and the test perplexity.

Run: ``python examples/quickstart.py`` (about a minute on a 2-core laptop CPU);
``CHARZOO_QUICK=1`` or ``--quick`` trains for a few seconds instead.
"""

from __future__ import annotations

import math
import os
import sys

from charzoo import CharMLP
from charzoo.datasets import load_names, train_val_test_split

quick = "--quick" in sys.argv or bool(os.environ.get("CHARZOO_QUICK"))
train, val, test = train_val_test_split(load_names(), random_state=42)
model = CharMLP(block_size=3, max_steps=2000 if quick else 30000, random_state=0, verbose=True)
model.fit(train, validation_texts=val)

print("samples:", ", ".join(model.generate(10, temperature=0.8)))
print("samples starting with 'an':", ", ".join(model.generate(5, prefix="an")))
perplexity = model.score(test)
print(f"test perplexity {perplexity:.3f} (NLL {math.log(perplexity):.4f} nats/char)")
