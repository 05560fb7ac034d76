"""The command line of :class:`~charzoo.classifier.CharLMClassifier`: ``charzoo fit
classifier LABELLED.tsv`` and ``charzoo classify MODEL TEXTS``.

A labelled file holds one example per line: ``label<TAB>text`` (UTF-8; the text is
everything after the first tab, so it may hold tabs itself; blank lines are skipped).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from charzoo.cli.inputs import CLIError, members_from_specs, read_data, read_text_file

__all__ = ["cmd_classify", "fit_classifier", "print_classifier_info", "read_labelled"]


def read_labelled(spec: str) -> tuple[list[str], list[str]]:
    """Texts and labels of a ``label<TAB>text`` file."""
    path = Path(spec)
    if not path.is_file():
        raise CLIError(f"no such file: {spec} (a classifier trains on label<TAB>text lines)")
    texts, labels = [], []
    for number, line in enumerate(read_text_file(path).split("\n"), start=1):
        if not line.strip():
            continue
        label, sep, text = line.partition("\t")
        if not sep or not label.strip() or not text:
            raise CLIError(
                f"{spec}, line {number}: expected label<TAB>text, got {line[:40]!r}; a "
                "classifier trains on one labelled text per line"
            )
        labels.append(label.strip())
        texts.append(text)
    if not texts:
        raise CLIError(f"{spec} holds no labelled text")
    return texts, labels


def fit_classifier(args: argparse.Namespace, cls: type, params: dict) -> int:
    """``charzoo fit classifier DATA``: train and save a classifier."""
    if args.member:  # the class model: one --member, or several mixed (a CharMixture)
        members = members_from_specs(args.member)
        if len(members) == 1:
            params["estimator"] = members[0][1]
        else:
            from charzoo.models.mixture import CharMixture

            params["estimator"] = CharMixture(members)
    for flag in ("resume", "preset", "mode", "max_steps", "val_fraction", "device", "threads"):
        if getattr(args, flag, None):
            raise CLIError(f"--{flag.replace('_', '-')} does not apply to the classifier")
    if args.seed is not None:
        params["random_state"] = args.seed
    out = Path(args.output)
    if not out.parent.exists():
        raise CLIError(f"cannot write {out}: folder {out.parent} does not exist")
    texts, labels = read_labelled(args.data)
    model = cls(**params)
    if not args.quiet:
        print(
            f"training a classifier on {len(texts)} texts of {len(set(labels))} classes",
            file=sys.stderr,
        )
    model.fit(texts, labels)
    model.save(out)
    if not args.quiet:
        print(f"saved {out} (training accuracy {model.score(texts, labels):.4f})", file=sys.stderr)
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    """``charzoo classify MODEL TEXTS``: print ``label<TAB>text`` for every line of TEXTS."""
    from charzoo import load
    from charzoo.classifier import CharLMClassifier

    model = load(args.model_file)
    if not isinstance(model, CharLMClassifier):
        raise CLIError(
            f"{args.model_file} holds a {type(model).__name__}, not a classifier; train one "
            "with `charzoo fit classifier labelled.tsv -o model.cz`"
        )
    texts, _ = read_data(args.texts, "document")
    proba = model.predict_proba(texts)
    best = proba.argmax(axis=1)
    for text, k, row in zip(texts, best, proba):
        label = model.classes_[k]
        print(f"{label}\t{row[k]:.4f}\t{text}" if args.proba else f"{label}\t{text}")
    return 0


def print_classifier_info(model, path: str) -> int:
    """``charzoo info`` of a classifier file."""
    classes = ", ".join(map(str, model.classes_))
    print(f"model           classifier ({type(model).__name__}), {Path(path).stat().st_size} bytes")
    print(f"classes         {len(model.classes_)}: {classes}")
    print(f"class model     {model.estimators_[0]!r}")
    print(f"vocabulary      {model.tokenizer_.vocab_size} ids: boundary + "
          f"{''.join(model.tokenizer_.chars)!r}")  # fmt: skip
    print(f"calibration     {model.calibration} (temperature {model.temperature_:.4g})")
    print("hyperparameters")
    for key, value in sorted(model.get_params(deep=False).items()):
        print(f"  {key} = {value!r}")
    return 0
