"""Baselines that benchmarks/speed.py measures side by side with charzoo (never imported by it).

- :mod:`baselines.lecture_pytorch`: straightforward PyTorch in the style of the makemore
  lecture notebooks and script (per-example Python data, Python loops, no caches).
- :mod:`baselines.nltk_ngram`: ``nltk.lm`` MLE and KneserNeyInterpolated n-gram models.
"""
