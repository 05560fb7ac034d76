"""Labelled data sets of the classification benchmark (benchmarks/classify.py), built at run
time from word and name lists that well-kept packages ship (``wordfreq``, ``Faker``: the
``benchmark`` extra)."""

from __future__ import annotations

import importlib

import numpy as np

__all__ = ["LANGUAGES", "SURNAME_LOCALES", "language_words", "surnames", "split"]

#: 12 Latin-script languages of wordfreq
LANGUAGES = ("cs", "da", "de", "en", "es", "fi", "fr", "it", "nl", "pl", "pt", "sv")
#: the 10 Latin-script Faker locales with the longest surname lists
SURNAME_LOCALES = (
    "cs_CZ", "de_DE", "en_US", "es_ES", "fi_FI", "fr_FR", "hr_HR", "it_IT", "nl_NL", "sv_SE",
)  # fmt: skip


def _unique_labels(by_label: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """Texts found under exactly one label, with that label (sorted, so runs agree)."""
    seen: dict[str, int] = {}
    for texts in by_label.values():
        for t in texts:
            seen[t] = seen.get(t, 0) + 1
    X, y = [], []
    for label, texts in sorted(by_label.items()):
        for t in sorted(texts):
            if seen[t] == 1:
                X.append(t)
                y.append(label)
    return X, y


def language_words(n_per_language: int = 9000) -> tuple[list[str], list[str]]:
    """The ``n_per_language`` most frequent alphabetic words of 3+ letters of each language
    (wordfreq's lists), words found in two or more languages removed."""
    from wordfreq import top_n_list

    by_label = {}
    for lang in LANGUAGES:
        words = [w for w in top_n_list(lang, 4 * n_per_language) if len(w) >= 3 and w.isalpha()]
        by_label[lang] = set(words[:n_per_language])
    return _unique_labels(by_label)


def surnames() -> tuple[list[str], list[str]]:
    """Faker's surname lists of ``SURNAME_LOCALES``, names of two or more locales removed."""
    by_label = {}
    for locale in SURNAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        names: set[str] = set()
        for attr in ("last_names", "last_names_male", "last_names_female"):
            names |= set(getattr(provider, attr, ()) or ())
        by_label[locale] = names
    return _unique_labels(by_label)


def split(X: list[str], y: list[str], test_size: float = 0.2, seed: int = 0) -> tuple:
    """A random split by text: X_train, X_test, y_train, y_test."""
    order = np.random.RandomState(seed).permutation(len(X))
    n_test = round(test_size * len(X))
    test, train = order[:n_test], order[n_test:]
    pick = lambda seq, idx: [seq[i] for i in idx]  # noqa: E731
    return pick(X, train), pick(X, test), pick(y, train), pick(y, test)
