"""Text classification benchmark: CharLMClassifier against TF-IDF + logistic regression,
multinomial naive Bayes and (where installed) lingua, on the same split in the same run.

Tasks (built at run time; ``pip install charzoo[benchmark]``):

- ``language``: single-word language identification, 12 Latin-script languages (wordfreq's
  top words of 3+ letters, words of two or more languages removed, random 80/20 split).
- ``surname``: surname origin, Faker's surname lists of 10 Latin-script locales.

Usage::

    python benchmarks/classify.py --task language surname --configs default ngram5 \
        --baselines tfidf_lr nb lingua --table classify.md

Prints one JSON line per (task, approach) and appends it to results/classify.jsonl; with
``--table`` writes the run's Markdown table to results/<table>.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _classify_data import LANGUAGES, language_words, split, surnames
from _common import RESULTS_DIR, emit, markdown_table
from sklearn.metrics import accuracy_score, f1_score, log_loss

from charzoo import CharGRU, CharLMClassifier, CharNGram
from charzoo.models.mixture import CharMixture


def _gru_mixture() -> CharMixture:
    gru = CharGRU(n_embd=32, n_hidden=128, n_layers=1, dropout=0.1, max_steps=1500,
                  learning_rate=3e-3, n_threads=1)  # fmt: skip
    return CharMixture([("ngram", CharNGram(order=6)), ("gru", gru)])


#: CharLMClassifier settings the search tried (see results/classify_search.md)
CONFIGS = {
    "default": lambda: CharLMClassifier(),
    "ngram4": lambda: CharLMClassifier(CharNGram(order=4)),
    "ngram5": lambda: CharLMClassifier(CharNGram(order=5)),
    "ngram7": lambda: CharLMClassifier(CharNGram(order=7)),
    "ngram8": lambda: CharLMClassifier(CharNGram(order=8)),
    "ngram6_witten_bell": lambda: CharLMClassifier(CharNGram(order=6, smoothing="witten_bell")),
    "ngram6_uncalibrated": lambda: CharLMClassifier(calibration=None),
    "ngram6_temperature": lambda: CharLMClassifier(calibration="temperature"),
    "ngram6_temperature_bias": lambda: CharLMClassifier(calibration="temperature+bias"),
    "mixture_ngram6_gru": lambda: CharLMClassifier(_gru_mixture()),
}


def _baselines() -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    def tfidf(**kw):
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, **kw)

    return {
        "tfidf_lr": lambda: make_pipeline(tfidf(), LogisticRegression(C=10, max_iter=2000)),
        "nb": lambda: make_pipeline(tfidf(use_idf=False), MultinomialNB(alpha=0.01)),
    }


def _record(task, name, y_test, classes, pred, proba, fit_s, predict_s, **extra) -> dict:
    return {
        "benchmark": "classify",
        "task": task,
        "approach": name,
        "accuracy": accuracy_score(y_test, pred),
        "macro_f1": f1_score(y_test, pred, average="macro"),
        "log_loss": None if proba is None else log_loss(y_test, proba, labels=classes),
        "fit_seconds": fit_s,
        "predict_seconds": predict_s,
        **extra,
    }


def run_estimator(task, name, model, X_train, X_test, y_train, y_test) -> dict:
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    proba = model.predict_proba(X_test)
    pred = model.classes_[proba.argmax(1)]
    predict_s = time.perf_counter() - start
    params = {k: str(v) for k, v in model.get_params(deep=False).items()}
    return _record(task, name, y_test, model.classes_, pred, proba, fit_s, predict_s,
                   params=params)  # fmt: skip


def run_lingua(task, X_train, X_test, y_train, y_test) -> dict | None:
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError:
        return None
    classes = sorted(set(y_train))
    langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in classes]
    start = time.perf_counter()
    detector = LanguageDetectorBuilder.from_languages(*langs).build()
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    values = detector.compute_language_confidence_values_in_parallel(X_test)
    proba = np.zeros((len(X_test), len(classes)))
    for i, row in enumerate(values):
        for cv in row:
            proba[i, classes.index(cv.language.iso_code_639_1.name.lower())] = cv.value
    proba = (proba + 1e-6) / (proba + 1e-6).sum(1, keepdims=True)  # lingua gives hard zeros
    pred = np.asarray(classes)[proba.argmax(1)]
    predict_s = time.perf_counter() - start
    return _record(task, "lingua (pretrained)", y_test, classes, pred, proba, fit_s, predict_s)


def load_task(task: str, words: int) -> tuple:
    X, y = language_words(words) if task == "language" else surnames()
    return split(X, y)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", nargs="+", default=["language", "surname"],
                        choices=["language", "surname"])  # fmt: skip
    parser.add_argument("--configs", nargs="*", default=["default"], choices=list(CONFIGS))
    parser.add_argument("--baselines", nargs="*", default=["tfidf_lr", "nb", "lingua"])
    parser.add_argument("--words", type=int, default=10000, help="top words per language")
    parser.add_argument("--table", help="write the run's Markdown table to results/TABLE")
    parser.add_argument("--jsonl", default="classify", help="results/<JSONL>.jsonl")
    args = parser.parse_args(argv)
    records = []
    for task in args.task:
        X_train, X_test, y_train, y_test = load_task(task, args.words)
        size = {"n_train": len(X_train), "n_test": len(X_test), "n_classes": len(set(y_train))}
        print(f"{task}: {size}", file=sys.stderr, flush=True)
        runs = [(name, CONFIGS[name]()) for name in args.configs]
        runs += [(name, _baselines()[name]()) for name in args.baselines if name != "lingua"]
        for name, model in runs:
            record = run_estimator(task, name, model, X_train, X_test, y_train, y_test)
            records.append({**record, **size})
            emit(records[-1], args.jsonl)
        if "lingua" in args.baselines and task == "language" and set(y_train) <= set(LANGUAGES):
            record = run_lingua(task, X_train, X_test, y_train, y_test)
            if record is not None:
                records.append({**record, **size})
                emit(records[-1], args.jsonl)
    if args.table:
        rows = [
            [r["task"], r["approach"], f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}",
             "-" if r["log_loss"] is None else f"{r['log_loss']:.4f}",
             f"{r['fit_seconds']:.1f}", f"{r['predict_seconds']:.1f}"]
            for r in records
        ]  # fmt: skip
        header = ["task", "approach", "accuracy", "macro-F1", "log-loss", "fit s", "predict s"]
        table = markdown_table(header, rows, ["l", "l", "r", "r", "r", "r", "r"])
        (RESULTS_DIR / args.table).write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
