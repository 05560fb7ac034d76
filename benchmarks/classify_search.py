"""The search behind CharLMClassifier's default: variants of one-n-gram-per-class that are not
CharLMClassifier settings (an own vocabulary per class, backward models, stacking the class
log-likelihoods of several orders), on the splits of benchmarks/classify.py.

Usage::

    python benchmarks/classify_search.py --task language surname

Prints one JSON line per (task, variant) and appends it to results/classify_search.jsonl.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _classify_data import language_words, split, surnames
from _common import emit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from charzoo import CharNGram
from charzoo.tokenizer import CharTokenizer


def class_scores(X_fit, y_fit, X_score, classes, order, tokenizer=None, reverse=False):
    """Log-likelihood of every text of ``X_score`` under a per-class n-gram."""
    flip = (lambda ts: [t[::-1] for t in ts]) if reverse else list
    columns = []
    for c in classes:
        model = CharNGram(order=order, mode="document", handle_unknown="ignore", verbose=False)
        model.fit(flip(X_fit[y_fit == c]), tokenizer=tokenizer)
        columns.append(model.score_samples(flip(X_score)))
    return np.column_stack(columns)


def accuracy(scores, log_prior, classes, y):
    return float((classes[(scores + log_prior).argmax(1)] == y).mean())


def run(task: str, words: int) -> None:
    X, y = language_words(words) if task == "language" else surnames()
    X_train, X_test, y_train, y_test = (np.asarray(a, dtype=object) for a in split(X, y))
    y_train, y_test = y_train.astype(str), y_test.astype(str)
    classes = np.unique(y_train)
    log_prior = np.log([np.mean(y_train == c) for c in classes])
    shared = CharTokenizer(handle_unknown="ignore").fit(list(X_train))

    def emit_row(variant, acc, seconds, **extra):
        record = {"task": task, "variant": variant, "accuracy": acc, "seconds": seconds}
        emit({**record, **extra, "n_train": len(X_train)}, "classify_search")

    for order in (5, 6, 7):
        start = time.perf_counter()
        own = class_scores(X_train, y_train, X_test, classes, order)  # own vocabulary
        emit_row(f"own vocabulary, order {order}", accuracy(own, log_prior, classes, y_test),
                 time.perf_counter() - start)  # fmt: skip
        start = time.perf_counter()
        fwd = class_scores(X_train, y_train, X_test, classes, order, shared)
        emit_row(f"shared vocabulary, order {order}", accuracy(fwd, log_prior, classes, y_test),
                 time.perf_counter() - start)  # fmt: skip
        bwd = class_scores(X_train, y_train, X_test, classes, order, shared, reverse=True)
        emit_row(f"shared, backward, order {order}", accuracy(bwd, log_prior, classes, y_test),
                 time.perf_counter() - start)  # fmt: skip
        both = accuracy((fwd + bwd) / 2, log_prior, classes, y_test)
        emit_row(f"shared, forward+backward mean, order {order}", both,
                 time.perf_counter() - start)  # fmt: skip
    # stacking: multinomial logistic regression on out-of-fold class log-likelihoods
    start = time.perf_counter()
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X_train, y_train)
    oof = {o: np.zeros((len(X_train), len(classes))) for o in (3, 5, 7)}
    for fit_idx, held_idx in folds:
        for o in oof:
            oof[o][held_idx] = class_scores(
                X_train[fit_idx], y_train[fit_idx], X_train[held_idx], classes, o, shared
            )
    test = {o: class_scores(X_train, y_train, X_test, classes, o, shared) for o in oof}
    for orders in ((7,), (3, 5, 7)):
        features = np.hstack([oof[o] for o in orders])
        stacker = LogisticRegression(C=0.1, max_iter=5000).fit(features, y_train)
        acc = stacker.score(np.hstack([test[o] for o in orders]), y_test)
        emit_row(f"stacked LR on orders {orders}", float(acc), time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", nargs="+", default=["language", "surname"],
                        choices=["language", "surname"])  # fmt: skip
    parser.add_argument("--words", type=int, default=10000, help="top words per language")
    args = parser.parse_args(argv)
    for task in args.task:
        run(task, args.words)
    return 0


if __name__ == "__main__":
    sys.exit(main())
