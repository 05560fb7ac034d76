"""The ``charzoo`` command line: list models, train, sample, score and inspect model files.

::

    charzoo models [--trace]                 # available models (and every plugin found)
    charzoo fit mlp names -o names.cz --param block_size=4 --max-steps 5000
    charzoo generate names.cz -n 20 --temperature 0.8 --novel names
    charzoo score names.cz test.txt
    charzoo info names.cz

``DATA`` is a text file (one text per line in document mode, the whole file in stream mode) or
one of the bundled corpora ``names``, ``dinos``, ``shakespeare``. Errors print one line and exit
with status 1 (2 for usage errors); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import sys
import warnings
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
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CLIError(f"{spec} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    mode = mode or "document"
    if mode == "stream":
        return [text], mode
    texts = [line for line in text.splitlines() if line.strip()]
    if not texts:
        raise CLIError(f"{spec} holds no text")
    return texts, mode


def _parse_value(raw: str) -> object:
    """``--param`` values: Python/JSON literals (3, 0.1, true, none, [1, 2]) or plain strings."""
    lowered = raw.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"none", "null"}:
        return None
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def _parse_params(items: list[str], valid: set[str], model: str) -> dict:
    params = {}
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
        params[key] = _parse_value(raw)
    return params


def _load(path: str):
    from charzoo import load

    return load(path)


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
    params = _parse_params(args.param, valid, args.model)
    options = {
        "max_steps": args.max_steps,
        "validation_fraction": args.val_fraction,
        "random_state": args.seed,
    }
    for key, value in options.items():
        if value is None:
            continue
        if key not in valid:
            flag = "--" + key.replace("_", "-").replace("validation", "val")
            raise CLIError(f"model {args.model!r} has no parameter {key!r} ({flag})")
        params[key] = value
    if args.sample_every and "eval_interval" in valid and "eval_interval" not in params:
        params["eval_interval"] = args.sample_every  # samples are shown at evaluations
    texts, mode = _read_data(args.data, args.mode)
    params["mode"] = mode
    if "verbose" in valid:
        params["verbose"] = not args.quiet
    out = Path(args.output)
    if not out.parent.exists():
        raise CLIError(f"cannot write {out}: folder {out.parent} does not exist")
    model = info.cls(**params)
    reporter = _Reporter(model, out, args)
    if "callbacks" in valid:
        model.set_params(callbacks=[*(model.callbacks or []), reporter])
    n_chars = sum(len(t) for t in texts)
    _say(args, f"training {args.model} on {len(texts)} texts ({n_chars} characters, {mode} mode)")
    model.fit(texts)
    _save(model, out)
    stop = getattr(model, "stop_reason_", "done")
    best = getattr(model, "best_step_", None)
    detail = f" (best step {best})" if best is not None else ""
    _say(args, f"saved {out}{detail}")
    if not args.quiet:
        for text in model.generate(args.samples, random_state=0):
            print(text if mode == "document" else text[:200])
    if stop == "interrupted":
        print(f"charzoo: interrupted; the best model so far is in {out}", file=sys.stderr)
        return 130
    return 0


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


def cmd_generate(args: argparse.Namespace) -> int:
    model = _load(args.model_file)
    samples = model.generate(
        args.n,
        prefix=args.prefix,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        max_length=args.max_length,
        random_state=args.seed,
    )
    if args.novel:
        known = set(_read_data(args.novel, "document")[0])
        kept = [s for s in samples if s not in known]
        print(
            f"dropped {len(samples) - len(kept)} of {len(samples)} samples found in {args.novel}",
            file=sys.stderr,
        )
        samples = kept
    for text in samples:
        print(text)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    model = _load(args.model_file)
    texts, _ = _read_data(args.data, model.mode_)
    ppl = model.score(texts)
    n = sum(len(t) + (model.mode_ == "document") for t in texts)
    print(f"perplexity      {ppl:.4f}")
    print(f"nll             {math.log(ppl):.4f} nats/char")
    print(f"bits per char   {math.log2(ppl):.4f}")
    print(f"texts           {len(texts)}")
    print(f"predictions     {n}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from charzoo.registry import registered_name

    model = _load(args.model_file)
    info = registered_name(type(model))
    name = info.name if info else "?"
    package = f"{info.package} {info.version}" if info else "?"
    chars = "".join(model.tokenizer_.chars)
    n_params = sum(p.numel() for p in model.module_.parameters())
    n_buffers = sum(b.numel() for b in model.module_.buffers())
    print(f"model           {name} ({type(model).__name__}, package {package})")
    print(f"file            {args.model_file} ({Path(args.model_file).stat().st_size} bytes)")
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


# ---------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from charzoo import __version__

    parser = argparse.ArgumentParser(
        prog="charzoo", description="Character-level language models: train, sample, score."
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

    p = sub.add_parser("fit", help="train a model on DATA and save it")
    p.add_argument("model", help="model name (see `charzoo models`)")
    p.add_argument("data", help=f"text file or bundled corpus ({', '.join(BUNDLED)})")
    p.add_argument("-o", "--output", required=True, help="model file to write (.cz)")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter"
    )
    p.add_argument("--mode", choices=["document", "stream"], help="one text per line, or one")
    p.add_argument("--val-fraction", type=float, help="held-out fraction for validation")
    p.add_argument("--max-steps", type=int, help="optimiser steps")
    p.add_argument("--seed", type=int, help="random_state")
    p.add_argument("--samples", type=int, default=5, help="samples to show (default 5)")
    p.add_argument("--sample-every", type=int, help="steps between shown samples")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or samples")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("generate", help="sample texts from a model file")
    p.add_argument("model_file")
    p.add_argument("-n", type=int, default=10, help="number of samples (default 10)")
    p.add_argument("--prefix", default="", help="start of every sample")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int)
    p.add_argument("--top-p", type=float)
    p.add_argument("--max-length", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--novel",
        metavar="DATA",
        help="drop samples that occur in DATA (the training texts) and report how many",
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("score", help="perplexity, NLL and bits per character of DATA")
    p.add_argument("model_file")
    p.add_argument("data", help=f"text file or bundled corpus ({', '.join(BUNDLED)})")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("info", help="hyperparameters, vocabulary, size and training summary")
    p.add_argument("model_file")
    p.set_defaults(func=cmd_info)
    return parser


def _one_line_warnings(message, category, filename, lineno, file=None, line=None) -> None:
    text = str(message).splitlines()[0] if str(message) else category.__name__
    print(f"charzoo: warning: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``charzoo`` command; returns the exit status."""
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
            message = "not enough memory for this request; lower n, max_length or the model size"
        elif not isinstance(exc, (ValueError, TypeError, OSError, CLIError)):
            message = f"internal error ({type(exc).__name__}: {message}); rerun with --debug"
        print(f"charzoo: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
