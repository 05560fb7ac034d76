"""Quality of the core models on names with their documented defaults.

Usage: ``python benchmarks/core_models.py [--quick]``. Prints one JSON line per model and appends
to ``benchmarks/results/core_models.jsonl``. Bars: CharBigram test NLL within 0.02 of
2.45; CharMLP defaults test NLL <= 2.17 within 5 minutes on 2 CPU cores.
"""

from __future__ import annotations

import sys

from _common import emit, fit_and_score, names_split

from charzoo import CharBigram, CharMLP


def main() -> None:
    quick = "--quick" in sys.argv
    train, val, test = names_split()
    if quick:
        train, val, test = train[:3000], val[:300], test[:300]
    models = [CharBigram(), CharMLP(random_state=0, **({"max_steps": 200} if quick else {}))]
    for model in models:
        emit(
            fit_and_score(model, train, val, test, quick=quick),
            "core_models" + ("_quick" if quick else ""),
        )


if __name__ == "__main__":
    main()
