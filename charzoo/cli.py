"""The ``charzoo`` command line: list models, train, sample, score and inspect model files.

::

    charzoo models [--trace]                 # available models (and every plugin found)
    charzoo pretrained                       # models shipped with charzoo, ready to sample
    charzoo generate names-gru -n 10         # sample a pretrained model (or a .cz file)
    charzoo fit mlp names -o names.cz --param block_size=4 --max-steps 5000 --threads 1
    charzoo fit mlp names -o names.cz --resume names.cz --max-steps 2000   # train on
    charzoo fit mixture names -o mix.cz --member ngram:order=5 --member transformer
    charzoo encode corpus.txt -o corpus.czb  # ids on disk; then: charzoo fit gru corpus.czb ...
    charzoo generate names.cz -n 20 --temperature 0.8 --novel names
    charzoo score names.cz test.txt
    charzoo info names.cz

``DATA`` is a UTF-8 text file (one text per line in document mode, the whole file in stream
mode; a byte-order mark is skipped, ``\r\n`` and ``\r`` line ends read as ``\n``), an encoded
corpus ``.czb`` (one stream, memory-mapped), or one of the bundled corpora ``names``,
``dinos``, ``shakespeare``. Errors print one line and exit with status 1 (2 for usage errors;
130 for Ctrl-C); ``--debug`` shows the traceback.

Start-up is kept short: ``import charzoo`` imports nothing heavy, and torch, scikit-learn and
the plugins are imported only by the commands that need them, after the Ctrl-C handling is in
place, so Ctrl-C at any moment prints one line.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["main"]

BUNDLED = ("names", "dinos", "shakespeare")


class CLIError(Exception):
    """A user error reported as one line."""


# --------------------------------------------------------------------------------- helpers
def _read_data(spec: str, mode: str | None) -> tuple[list[str], str]:
    """Texts of DATA (a path or a bundled corpus) and the mode they are meant for."""
    from charzoo import datasets

    path = Path(spec)
    if path.suffix == ".czb" and path.is_file():  # an encoded corpus: one stream
        from charzoo.encoded import EncodedCorpus

        if mode == "document":
            raise CLIError(f"{spec} is an encoded corpus (one stream): drop --mode document")
        return EncodedCorpus(path), "stream"
    if not path.exists() and spec in BUNDLED:
        if spec == "shakespeare":
            text = datasets.load_shakespeare()
            lines = [line for line in text.splitlines() if line.strip()]
            return ([text], "stream") if mode != "document" else (lines, mode)
        texts = datasets.load_names() if spec == "names" else datasets.load_dinos()
        return (texts, mode or "document") if mode != "stream" else (["\n".join(texts)], mode)
    if not path.exists():
        raise CLIError(f"no such file: {spec} (or use a bundled corpus: {', '.join(BUNDLED)})")
    if path.is_dir():
        raise CLIError(f"{spec} is a directory, expected a text file")
    text = read_text_file(path)
    mode = mode or "document"
    if mode == "stream":
        return [text], mode
    texts = [line for line in text.split("\n") if line.strip()]
    if not texts:
        raise CLIError(f"{spec} holds no text")
    return texts, mode


def read_text_file(path: Path) -> str:
    """A text file as charzoo reads it: UTF-8, a leading byte-order mark dropped, universal
    newlines (``\r\n`` and ``\r`` become ``\n``)."""
    try:
        with open(path, encoding="utf-8-sig", newline=None) as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _parse_params(items: list[str], valid: set[str], model: str) -> dict:
    params = {}
    from charzoo.utils import parse_literal

    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise CLIError(f"--param expects key=value, got {item!r}")
        if key not in valid:
            raise CLIError(
                f"model {model!r} has no parameter {key!r}; its parameters: "
                + ", ".join(sorted(valid))
            )
        params[key] = parse_literal(raw)
    return params


def _load(spec: str, threads: int | None = None):
    """A model file, or a pretrained model's name (see ``charzoo pretrained``)."""
    from charzoo.pretrained_models import list_pretrained

    if not Path(spec).exists() and spec in list_pretrained():
        from charzoo.pretrained_models import pretrained

        model = pretrained(spec)
    else:
        from charzoo import load

        model = load(spec)
    if threads is not None:
        model.set_params(n_threads=threads)
    return model


def _presets(cls: type) -> dict[str, dict]:
    """Named settings of a model class: its ``presets`` and ``ZOO_PRESET`` (as ``zoo``)."""
    presets = dict(getattr(cls, "presets", None) or {})
    if getattr(cls, "ZOO_PRESET", None):
        presets.setdefault("zoo", cls.ZOO_PRESET)
    return presets


def _print_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


# -------------------------------------------------------------------------------- commands
def cmd_models(args: argparse.Namespace) -> int:
    import charzoo

    if args.trace:
        return cmd_plugins(args)
    rows = []
    for name in charzoo.list_models(args.pattern):
        info = charzoo.model_info(name)
        rows.append((name, info.cls.__name__, f"{info.package} {info.version}", info.description))
    _print_table(rows, ("name", "class", "package", "description"))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    import charzoo
    from charzoo.registry import BLOCK_ENV, DISABLE_AUTOLOAD_ENV

    plugins = charzoo.list_plugins()
    for p in plugins:
        kind = "built-in" if p.builtin else "entry point"
        status = "blocked" if p.blocked else ("FAILED" if p.error else "ok")
        print(f"{p.name}  [{kind}, package {p.package} {p.version}]  {status}")
        if p.models:
            print(f"    models: {', '.join(p.models)}")
        if p.error:
            print(f"    error: {p.error}")
    if os.environ.get(DISABLE_AUTOLOAD_ENV):
        print(f"entry-point plugins not loaded: {DISABLE_AUTOLOAD_ENV} is set")
    if os.environ.get(BLOCK_ENV):
        print(f"blocked by {BLOCK_ENV}: {os.environ[BLOCK_ENV]}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    import charzoo

    info = charzoo.model_info(args.model)
    valid = set(info.cls().get_params(deep=False))
    params: dict = {}
    if args.preset:
        presets = _presets(info.cls)
        if args.preset not in presets:
            known = ", ".join(sorted(presets)) or "none"
            raise CLIError(
                f"model {args.model!r} has no preset {args.preset!r}; its presets: {known}"
            )
        params.update(presets[args.preset])
    params.update(_parse_params(args.param, valid, args.model))
    if args.member:  # mixture members: --member ngram:order=5 --member transformer
        from charzoo.models.mixture import members_from_specs

        if "estimators" not in valid:
            raise CLIError(f"--member applies to the mixture model, not {args.model!r}")
        params["estimators"] = members_from_specs(args.member)
    options = {
        "max_steps": args.max_steps,
        "validation_fraction": args.val_fraction,
        "random_state": args.seed,
        "device": args.device,
        "n_threads": args.threads,
    }
    flags = {"validation_fraction": "--val-fraction", "random_state": "--seed"}
    for key, value in options.items():
        if value is None:
            continue
        if key not in valid:
            flag = flags.get(key, "--" + key.replace("_", "-"))
            raise CLIError(f"model {args.model!r} has no parameter {key!r} ({flag})")
        params[key] = value
    if args.sample_every and "eval_interval" in valid and "eval_interval" not in params:
        params["eval_interval"] = args.sample_every  # samples are shown at evaluations
    out = Path(args.output)
    if not out.parent.exists():
        raise CLIError(f"cannot write {out}: folder {out.parent} does not exist")
    if args.resume:
        model = _resume(args, info, valid, params)
        mode = model.mode_
        texts, _ = _read_data(args.data, mode)
    else:
        texts, mode = _read_data(args.data, args.mode)
        params["mode"] = mode
        model = info.cls(**params)
    if "verbose" in valid:
        model.set_params(verbose=not args.quiet)
    reporter = _Reporter(model, out, args)
    if "callbacks" in valid:
        model.set_params(callbacks=[*(model.callbacks or []), reporter])
    encoded = not isinstance(texts, list)  # a .czb file: one stream of len(texts) ids
    n_texts = 1 if encoded else len(texts)
    n_chars = len(texts) if encoded else sum(len(t) for t in texts)
    what = f"resuming {args.model} at step {model.n_steps_}" if args.resume else "training"
    if not args.resume:
        what += f" {args.model}"
    _say(args, f"{what} on {n_texts} texts ({n_chars} characters, {mode} mode)")
    # Ctrl-C while training stops it (keeping the best weights); while saving, the save
    # cleans up its temporary file; either way one line is printed
    with _on_sigint(signal.default_int_handler), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "training interrupted", RuntimeWarning)
        model.fit(texts)
        stop = getattr(model, "stop_reason_", "done")
        best = getattr(model, "best_step_", None)
        _save(model, out)
    detail = f" (best step {best})" if best is not None else ""
    if stop == "interrupted":
        step = getattr(model, "n_steps_", "?")
        print(
            f"charzoo: interrupted at step {step}; the best model so far is in {out}{detail}",
            file=sys.stderr,
        )
        return 130
    _say(args, f"saved {out}{detail}")
    if not args.quiet:
        for text in model.generate(args.samples, random_state=0):
            print(text if mode == "document" else text[:200])
    return 0


def _resume(args: argparse.Namespace, info, valid: set[str], params: dict):
    """The model in ``--resume FILE``, set to continue training (warm start)."""
    if "warm_start" not in valid:
        raise CLIError(
            f"model {args.model!r} cannot resume training (it has no warm_start); fit it anew"
        )
    if args.mode:
        raise CLIError("--mode cannot change when resuming; the model file keeps its mode")
    if args.preset:
        raise CLIError("--preset cannot be used with --resume; the model file keeps its settings")
    model = _load(args.resume)
    if type(model) is not info.cls:
        raise CLIError(
            f"{args.resume} holds a {type(model).__name__} model, not {args.model!r} "
            f"({info.cls.__name__})"
        )
    import inspect

    from charzoo.base import CharLM
    from charzoo.neural import NeuralMixin

    # training settings may change; the network's shape and the data handling may not
    trainable = {
        *inspect.signature(CharLM.__init__).parameters,
        *inspect.signature(NeuralMixin.__init__).parameters,
    } - {"self", "kwargs", "mode", "handle_unknown"}
    saved = model.get_params(deep=False)
    for key, value in params.items():
        if key not in trainable and value != saved[key]:
            raise CLIError(
                f"--param {key} cannot change when resuming (the saved model has "
                f"{key}={saved[key]!r}); only training settings can"
            )
    model.set_params(**params, warm_start=True)
    return model


class _Reporter:
    """Training callback: saves the best model so far and prints samples now and then."""

    def __init__(self, model, out: Path, args: argparse.Namespace) -> None:
        self.out, self.args = out, args
        self.last_sample = 0
        self.every = args.sample_every

    def __call__(self, model, record: dict) -> None:
        from tqdm.auto import tqdm

        step = record["step"]
        if record.get("improved"):
            model.n_steps_ = model.best_step_ = step  # fit sets the final values at the end
            _save(model, self.out)  # atomic: an interrupted save keeps the previous file
        if self.args.quiet or self.args.samples == 0:
            return
        every = self.every or max(1, getattr(model, "max_steps", 1) // 5)
        if step - self.last_sample >= every:
            self.last_sample = step
            val = record.get("val_loss")
            loss = f"val loss {val:.4f}" if val is not None else f"loss {record['train_loss']:.4f}"
            samples = model.generate(self.args.samples, max_length=80, random_state=step)
            shown = " | ".join(s.replace("\n", " ") for s in samples)
            tqdm.write(f"step {step}: {loss}: {shown}", file=sys.stderr)


def _save(model, out: Path) -> None:
    """Save without the CLI's own settings (callables cannot be stored; no progress bar)."""
    keep = {k: v for k, v in model.get_params(deep=False).items() if k in {"callbacks", "verbose"}}
    model.set_params(**{k: None if k == "callbacks" else False for k in keep})
    try:
        model.save(out)
    finally:
        model.set_params(**keep)


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def cmd_encode(args: argparse.Namespace) -> int:
    from charzoo.encoded import encode_file

    source = Path(args.text)
    if not source.is_file():
        raise CLIError(f"no such file: {args.text}")
    encoded = encode_file(source, args.output, encoding=args.encoding, verbose=not args.quiet)
    _say(
        args,
        f"wrote {args.output}: {len(encoded)} ids ({encoded.ids.dtype}), "
        f"{len(encoded.chars)} distinct characters",
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    import numpy as np

    model = _load(args.model_file, args.threads)
    # sklearn's rule (a seeded estimator samples the same texts every call) stays in the API;
    # the command draws fresh samples on every run unless --seed is given
    seed = args.seed if args.seed is not None else np.random.SeedSequence().entropy
    rng = np.random.default_rng(seed)
    options = {
        "prefix": args.prefix,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "max_length": args.max_length,
    }
    if not args.novel:
        samples = model.generate(args.n, random_state=rng, **options)
    else:
        known = set(_read_data(args.novel, "document")[0])
        limit = args.max_draws if args.max_draws is not None else 20 * args.n
        if limit < args.n:
            raise CLIError(f"--max-draws {limit} is smaller than -n {args.n}")
        samples, drawn = [], 0
        while len(samples) < args.n and drawn < limit:
            batch = min(limit - drawn, max(args.n - len(samples), 16) * 2)
            drawn += batch
            fresh = model.generate(batch, random_state=rng, **options)
            samples.extend(t for t in fresh if t not in known)
        samples = samples[: args.n]
        if len(samples) < args.n:
            print(
                f"charzoo: only {len(samples)} of {args.n} samples are novel (not in "
                f"{args.novel}) after drawing {drawn}, the limit (--max-draws {limit})",
                file=sys.stderr,
            )
        else:
            print(
                f"{args.n} novel samples (not in {args.novel}); drew {drawn}",
                file=sys.stderr,
            )
    for text in samples:
        print(text)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    model = _load(args.model_file, args.threads)
    texts, _ = _read_data(args.data, model.mode_)
    ppl = model.score(texts)
    if isinstance(texts, list):
        n = sum(len(t) + (model.mode_ == "document") for t in texts)
    else:  # a .czb file
        n = len(texts)
    print(f"perplexity      {ppl:.4f}")
    print(f"nll             {math.log(ppl):.4f} nats/char")
    print(f"bits per char   {math.log2(ppl):.4f}")
    print(f"texts           {len(texts) if isinstance(texts, list) else 1}")
    print(f"predictions     {n}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from charzoo.registry import registered_name

    model = _load(args.model_file)
    info = registered_name(type(model))
    name = info.name if info else "?"
    path = Path(args.model_file)
    where = f"{path} ({path.stat().st_size} bytes)" if path.exists() else "pretrained (shipped)"
    package = f"{info.package} {info.version}" if info else "?"
    chars = "".join(model.tokenizer_.chars)
    n_params = sum(p.numel() for p in model.module_.parameters())
    n_buffers = sum(b.numel() for b in model.module_.buffers())
    print(f"model           {name} ({type(model).__name__}, package {package})")
    print(f"file            {where}")
    print(f"mode            {model.mode_}")
    print(f"vocabulary      {model.tokenizer_.vocab_size} ids: boundary + {chars!r}")
    print(f"parameters      {n_params}" + (f" (+ {n_buffers} in tables)" if n_buffers else ""))
    history = getattr(model, "history_", None) or {}
    if history.get("step"):
        val = [v for v in history.get("val_loss", []) if v is not None]
        best = f", best val loss {min(val):.4f}" if val else ""
        print(
            f"training        {getattr(model, 'n_steps_', '?')} steps, stopped: "
            f"{getattr(model, 'stop_reason_', '?')}, best step {getattr(model, 'best_step_', '?')}"
            f"{best}, last train loss {history['train_loss'][-1]:.4f}"
        )
    print("hyperparameters")
    for key, value in sorted(model.get_params(deep=False).items()):
        print(f"  {key} = {value!r}")
    return 0


def cmd_pretrained(args: argparse.Namespace) -> int:
    from charzoo.pretrained_models import list_pretrained, pretrained_info

    rows = []
    for name in list_pretrained():
        info = pretrained_info(name)
        rows.append((name, info.model, info.data, info.description))
    _print_table(rows, ("name", "model", "data", "description"))
    return 0


# ---------------------------------------------------------------------------------- parser
MODEL_FILE_HELP = "model file (.cz) or the name of a pretrained model (see `charzoo pretrained`)"
THREADS_HELP = (
    "torch CPU threads (default: torch's choice, one per core); use 1 on a machine busy with "
    "other work, where more threads can make training 10-20x slower"
)
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
    p.add_argument("model", help="model name (see `charzoo models`)")
    p.add_argument("data", help=DATA_HELP)
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
        help="a mixture member, e.g. ngram:order=5 (repeat for each member)",
    )
    p.add_argument(
        "--preset",
        metavar="NAME",
        help="start from a model's named settings: 'shakespeare' (rnn, gru, lstm, transformer), "
        "'zoo' (mlp, wavenet: the names benchmark settings)",
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
    p.add_argument("--val-fraction", type=float, help="fraction of DATA held out for validation")
    p.add_argument("--max-steps", type=int, help="optimiser steps (neural models)")
    p.add_argument("--seed", type=int, help="random_state: makes training reproducible")
    p.add_argument("--device", help="torch device: auto (default: CUDA if available), cpu, cuda")
    p.add_argument("--threads", type=int, metavar="N", help=THREADS_HELP)
    p.add_argument("--samples", type=int, default=5, help="samples to show (default 5)")
    p.add_argument(
        "--sample-every", type=int, help="steps between shown samples (default max_steps / 5)"
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
        "is given.",
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
        help="at most L characters after the prefix (default: twice the longest training text; "
        "256 in stream mode)",
    )
    p.add_argument(
        "--seed", type=int, help="make the samples reproducible (default: fresh on every run)"
    )
    p.add_argument(
        "--novel",
        metavar="DATA",
        help="keep only samples not found in DATA (e.g. the training texts), drawing more until "
        "there are n of them or --max-draws is reached",
    )
    p.add_argument(
        "--max-draws",
        type=int,
        metavar="M",
        help="with --novel: draw at most M samples in all (default 20 * n)",
    )
    p.add_argument("--threads", type=int, metavar="N", help=THREADS_HELP)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("score", help="perplexity, NLL and bits per character of DATA")
    p.add_argument("model_file", help=MODEL_FILE_HELP)
    p.add_argument("data", help=DATA_HELP)
    p.add_argument("--threads", type=int, metavar="N", help=THREADS_HELP)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("info", help="hyperparameters, vocabulary, size and training summary")
    p.add_argument("model_file", help=MODEL_FILE_HELP)
    p.set_defaults(func=cmd_info)
    return parser


def _one_line_warnings(message, category, filename, lineno, file=None, line=None) -> None:
    text = str(message).splitlines()[0] if str(message) else category.__name__
    print(f"charzoo: warning: {text}", file=sys.stderr)


def _exit_now(signum: int, frame: object) -> None:
    """SIGINT outside training: one line and exit 130 at once (no traceback, no clean-up to
    wait for: nothing is being written)."""
    os.write(2, b"charzoo: interrupted\n")
    os._exit(130)


@contextmanager
def _on_sigint(handler) -> Iterator[None]:
    """Install ``handler`` for SIGINT in the body (main thread only), then restore the old one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``charzoo`` command; returns the exit status.

    Ctrl-C prints one line at any moment: while training and saving it raises
    ``KeyboardInterrupt`` (training stops and keeps the best weights, the save finishes or
    leaves the old file); anywhere else the command exits at once with status 130.
    """
    with _on_sigint(_exit_now):
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.debug:
            warnings.showwarning = _one_line_warnings
        try:
            return args.func(args)
        except KeyboardInterrupt:
            print("charzoo: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # output piped into `head`: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as exc:
            if args.debug:
                raise
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, FileNotFoundError) and exc.filename:
                message = f"no such file: {exc.filename}"
            elif isinstance(exc, MemoryError) or "can't allocate memory" in message:
                message = (
                    "not enough memory for this request; lower n, max_length or the model size"
                )
            elif not isinstance(exc, (ValueError, TypeError, OSError, CLIError)):
                message = f"internal error ({type(exc).__name__}: {message}); rerun with --debug"
            print(f"charzoo: error: {message}", file=sys.stderr)
            return 1


def run() -> None:
    """Console-script entry point: :func:`main`, with Ctrl-C giving one line until exit."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _exit_now)
    sys.exit(main())


if __name__ == "__main__":
    run()
