"""The ``charzoo`` argument parser: every subcommand, option and help text."""

from __future__ import annotations

import argparse

from charzoo.cli.classify import cmd_classify
from charzoo.cli.commands import (
    cmd_encode,
    cmd_fit,
    cmd_info,
    cmd_models,
    cmd_plugins,
    cmd_pretrained,
)
from charzoo.cli.inputs import BUNDLED
from charzoo.cli.use_model import cmd_compare, cmd_generate, cmd_next, cmd_score

__all__ = ["build_parser"]

MODEL_FILE_HELP = "model file (.cz) or the name of a pretrained model (see `charzoo pretrained`)"
THREADS_HELP = (
    "torch CPU threads: auto (the default: one for a small model, else the cores other "
    "programs leave free) or a number"
)
LOWERCASE_HELP = "fold DATA to lower case first (e.g. the capitalised dinos for a names model)"


def threads_value(raw: str) -> int | str:
    """``--threads``: "auto" or a positive number."""
    text = raw.strip().lower()
    if text == "auto":
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected auto or a number >= 1, got {raw!r}")


DATA_HELP = (
    "UTF-8 text file (one text per line; a byte-order mark is skipped) or a bundled corpus: "
    + ", ".join(BUNDLED)
)


def build_parser() -> argparse.ArgumentParser:
    from charzoo import __version__

    parser = argparse.ArgumentParser(
        prog="charzoo",
        description="Character-level language models: train, sample, score.",
        epilog="`charzoo COMMAND --help` describes each command's options.",
    )
    parser.add_argument("--version", action="version", version=f"charzoo {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("models", help="list the available models")
    p.add_argument("pattern", nargs="?", default="*", help="wildcard filter, e.g. 'char*'")
    p.add_argument("--trace", action="store_true", help="show every plugin and load failures")
    p.add_argument(
        "--presets",
        action="store_true",
        help="list each model's presets (named settings for `charzoo fit --preset NAME`)",
    )
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("plugins", help="every plugin found: package, version, models, errors")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser(
        "pretrained", help="list the pretrained models shipped with charzoo, ready to sample"
    )
    p.set_defaults(func=cmd_pretrained)

    p = sub.add_parser(
        "fit",
        help="train a model on DATA and save it",
        description="Train a model on DATA and save it to OUTPUT. The best model so far is "
        "saved as training goes, so Ctrl-C keeps it.",
    )
    p.add_argument("model", help="model name (see `charzoo models`), or 'classifier'")
    p.add_argument("data", help=DATA_HELP + "; for 'classifier': label<TAB>text lines")
    p.add_argument("-o", "--output", required=True, help="model file to write (.cz)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a hyperparameter, e.g. --param block_size=4 (repeat for several; applied after "
        "--preset)",
    )
    p.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="MODEL[:KEY=VALUE,...]",
        help="a mixture member, e.g. ngram:order=5 (repeat for each member); for "
        "'classifier': the class model (several: a mixture of them)",
    )
    p.add_argument(
        "--preset",
        metavar="NAME",
        help="start from a model's named settings (e.g. names, shakespeare); `charzoo models "
        "--presets` lists every model's presets",
    )
    p.add_argument(
        "--mode",
        choices=["document", "stream"],
        help="document: each line of DATA is one text (a name); stream: DATA is one long "
        "text (default: document, stream for shakespeare)",
    )
    p.add_argument(
        "--resume",
        metavar="FILE",
        help="continue training the model saved in FILE (warm start; FILE may be OUTPUT); "
        "--max-steps more steps, with its saved hyperparameters unless --param changes them",
    )
    p.add_argument("--lowercase", action="store_true", help=LOWERCASE_HELP)
    p.add_argument("--val-fraction", type=float, help="fraction of DATA held out for validation")
    p.add_argument("--max-steps", type=int, help="optimiser steps (neural models)")
    p.add_argument("--seed", type=int, help="random_state: makes training reproducible")
    p.add_argument("--device", help="torch device: auto (default: CUDA if available), cpu, cuda")
    p.add_argument("--threads", type=threads_value, metavar="N", help=THREADS_HELP)
    p.add_argument(
        "--samples", type=_count(0), default=5, help="samples to show (default 5; 0: none)"
    )
    p.add_argument(
        "--sample-every",
        type=_count(1),
        help="steps between shown samples (default max_steps / 5)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or samples")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("encode", help="encode a text file to ids (.czb) to fit on, memory-mapped")
    p.add_argument("text", help="text file (one stream)")
    p.add_argument("-o", "--output", required=True, help="encoded file to write (.czb)")
    p.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="text encoding (default: UTF-8, a byte-order mark skipped)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser(
        "generate",
        help="sample texts from a model file or a pretrained model",
        description="Sample texts, one per line. Every run draws fresh samples unless --seed "
        "is given. Constraints (--pattern, --length, --starts, --ends, --contains, "
        "--not-contains, --chars, --exclude-file, --novel) apply to the whole text, prefix "
        "included; the samples come from the model's distribution conditioned on them.",
    )
    p.add_argument("model_file", help=MODEL_FILE_HELP)
    p.add_argument("-n", type=int, default=10, help="number of samples (default 10)")
    p.add_argument("--prefix", default="", help="start of every sample (default: none)")
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="divides the logits: below 1 more conservative, above 1 more diverse, 0 greedy "
        "(default 1.0)",
    )
    p.add_argument(
        "--top-k", type=int, metavar="K", help="sample only among the K most likely characters"
    )
    p.add_argument(
        "--top-p",
        type=float,
        metavar="P",
        help="nucleus sampling: only among the most likely characters holding P (0-1] of the "
        "probability",
    )
    p.add_argument(
        "--max-length",
        type=int,
        metavar="L",
        help="at most L characters after the prefix (default: twice the longest training text, "
        "32 to 4096; 256 in stream mode)",
    )
    p.add_argument(
        "--seed", type=int, help="make the samples reproducible (default: fresh on every run)"
    )
    _constraint_options(p)
    p.add_argument("--threads", type=threads_value, default="auto", metavar="N", help=THREADS_HELP)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "next",
        help="the most likely next characters after each prefix, with their probabilities",
        description="Print the model's next-character distribution after each PREFIX (its "
        "most likely entries), the one generate samples from and score multiplies along a "
        "text; <end> is the end marker (the text ends). Document mode: a prefix is the start "
        "of a text. Stream mode: the context the stream continues from.",
    )
    p.add_argument("model_file", help=MODEL_FILE_HELP)
    p.add_argument("prefixes", nargs="+", metavar="PREFIX", help="contexts ('' for the start)")
    p.add_argument("--top", type=int, default=5, metavar="K", help="entries shown (default 5)")
    p.add_argument("--threads", type=threads_value, default="auto", metavar="N", help=THREADS_HELP)
    p.set_defaults(func=cmd_next)

    p = sub.add_parser("score", help="perplexity, NLL and bits per character of DATA")
    p.add_argument("model_file", help=MODEL_FILE_HELP)
    p.add_argument("data", help=DATA_HELP)
    p.add_argument("--lowercase", action="store_true", help=LOWERCASE_HELP)
    p.add_argument("--threads", type=threads_value, default="auto", metavar="N", help=THREADS_HELP)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "classify",
        help="label every line of TEXTS with a classifier (charzoo fit classifier DATA.tsv)",
        description="Print label<TAB>text for every line of TEXTS. Train the classifier with "
        "`charzoo fit classifier DATA -o MODEL`, DATA holding label<TAB>text lines.",
    )
    p.add_argument("model_file", help="classifier file (.cz)")
    p.add_argument("texts", help="UTF-8 text file, one text per line")
    p.add_argument("--proba", action="store_true", help="also print the label's probability")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser(
        "compare",
        help="score several models on one DATA: one table, best first",
        description="Perplexity, bits per character, parameters and fit time (where the "
        "model knows it) of each model on the same DATA, best perplexity first.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help=MODEL_FILE_HELP)
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--lowercase", action="store_true", help=LOWERCASE_HELP)
    p.add_argument("--plot", metavar="FILE", help="also plot the validation histories to FILE")
    p.add_argument("--threads", type=threads_value, default="auto", metavar="N", help=THREADS_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="only the table")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("info", help="hyperparameters, vocabulary, size and training summary")
    p.add_argument("model_file", help=MODEL_FILE_HELP)
    p.set_defaults(func=cmd_info)
    return parser


def _constraint_options(p: argparse.ArgumentParser) -> None:
    """The generate command's constraints and --most-likely."""
    p.add_argument(
        "--pattern",
        metavar="REGEX",
        help="a regular expression every whole text must match, e.g. '[a-z]+(ia|ie)'",
    )
    p.add_argument(
        "--length",
        metavar="N[-M]",
        help="number of characters of every text: 6, 6-8 or 6- (at least 6)",
    )
    p.add_argument("--starts", metavar="TEXT", help="every text starts with TEXT")
    p.add_argument("--ends", metavar="TEXT", help="every text ends with TEXT")
    p.add_argument(
        "--contains",
        action="append",
        metavar="TEXT",
        help="every text contains TEXT (repeat for several)",
    )
    p.add_argument(
        "--not-contains",
        action="append",
        metavar="TEXT",
        help="no text contains TEXT (repeat for several)",
    )
    p.add_argument("--chars", metavar="CHARS", help="only these characters may appear")
    p.add_argument(
        "--exclude-file",
        metavar="FILE",
        help="never produce a text listed in FILE (one per line)",
    )
    p.add_argument(
        "--novel",
        metavar="DATA",
        help="never produce a text found in DATA (e.g. the training texts: " + DATA_HELP + ")",
    )
    p.add_argument(
        "--most-likely",
        type=int,
        metavar="N",
        help="print the N most probable texts (under the constraints), most likely first, "
        "with their log-probability, instead of sampling",
    )


def _count(low: int):
    """An argparse type: an int >= ``low`` (checked when the command line is read)."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {raw!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    return parse
