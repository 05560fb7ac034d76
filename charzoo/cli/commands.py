"""The ``charzoo`` subcommands: each ``cmd_*`` takes the parsed arguments and returns the exit
status."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from pathlib import Path

from charzoo.cli.inputs import (
    CLIError,
    load_model_spec,
    members_from_specs,
    model_presets,
    parse_params,
    print_table,
    read_data,
    say,
)
from charzoo.cli.signals import on_sigint


def cmd_models(args: argparse.Namespace) -> int:
    import charzoo

    if args.trace:
        return cmd_plugins(args)
    rows = []
    for name in charzoo.list_models(args.pattern):
        info = charzoo.model_info(name)
        if args.presets:
            for preset, params in sorted(model_presets(info.cls).items()):
                shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
                rows.append((name, preset, shown))
            continue
        rows.append((name, info.cls.__name__, f"{info.package} {info.version}", info.description))
    header = (
        ("name", "preset", "parameters")
        if args.presets
        else ("name", "class", "package", "description")
    )
    print_table(rows, header)
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
    if not issubclass(info.cls, charzoo.CharLM):  # a classifier: label<TAB>text data
        from charzoo.cli.classify import fit_classifier

        return fit_classifier(args, info.cls, parse_params(args.param, valid, args.model))
    if args.preset:
        presets = model_presets(info.cls)
        if args.preset not in presets:
            known = ", ".join(sorted(presets)) or "none"
            raise CLIError(
                f"model {args.model!r} has no preset {args.preset!r}; its presets: {known}"
            )
        params.update(presets[args.preset])
    params.update(parse_params(args.param, valid, args.model))
    if args.member:  # mixture members: --member ngram:order=5 --member transformer
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
        source = f"the model in {args.resume} (fitted on {mode}s)"
        texts, _ = read_data(args.data, mode, source, lowercase=args.lowercase)
    else:
        texts, mode = read_data(args.data, args.mode, lowercase=args.lowercase)
        params["mode"] = mode
        model = info.cls(**params)
    if "verbose" in valid:
        model.set_params(verbose=not args.quiet)
    # the file stores the model as its user would reload it: resumed settings undone, the
    # steps of every fit in max_steps (fitting the loaded model anew trains as long)
    args.stored = {}
    if args.resume:
        args.stored = {
            "warm_start": args.resumed_warm_start,
            "max_steps": model.n_steps_ + model.max_steps,
        }
    reporter = _Reporter(out, args)
    if "callbacks" in valid:
        model.set_params(callbacks=[*(model.callbacks or []), reporter])
    encoded = not isinstance(texts, list)  # a .czb file: one stream of len(texts) ids
    n_texts = 1 if encoded else len(texts)
    n_chars = len(texts) if encoded else sum(len(t) for t in texts)
    what = f"resuming {args.model} at step {model.n_steps_}" if args.resume else "training"
    if not args.resume:
        what += f" {args.model}"
    say(args, f"{what} on {n_texts} texts ({n_chars} characters, {mode} mode)")
    # Ctrl-C while training stops it (keeping the best weights); while saving, the save
    # cleans up its temporary file; either way one line is printed
    with on_sigint(signal.default_int_handler), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "training interrupted", RuntimeWarning)
        model.fit(texts)
        stop = getattr(model, "stop_reason_", "done")
        best = getattr(model, "best_step_", None)
        _save(model, out, args.stored)
    detail = f" (best step {best})" if best is not None else ""
    if stop == "interrupted":
        step = getattr(model, "n_steps_", "?")
        print(
            f"charzoo: interrupted at step {step}; the best model so far is in {out}{detail}",
            file=sys.stderr,
        )
        return 130
    say(args, f"saved {out}{detail}")
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
    model = load_model_spec(args.resume)
    if type(model) is not info.cls:
        raise CLIError(
            f"{args.resume} holds a {type(model).__name__} model, not {args.model!r} "
            f"({info.cls.__name__})"
        )
    from charzoo.fitted_state import training_params

    # training settings may change (dropout, learning_rate, ...); the network's structure
    # and the data mode may not (see charzoo.fitted_state)
    trainable = training_params(type(model))
    saved = model.get_params(deep=False)
    for key, value in params.items():
        if key not in trainable and value != saved[key]:
            raise CLIError(
                f"--param {key} cannot change when resuming (the saved model has "
                f"{key}={saved[key]!r}); only training settings can: "
                + ", ".join(sorted(trainable & valid))
            )
    args.resumed_warm_start = saved["warm_start"]
    model.set_params(**params, warm_start=True)
    return model


class _Reporter:
    """Training callback: saves the best model so far and prints samples now and then."""

    def __init__(self, out: Path, args: argparse.Namespace) -> None:
        self.out, self.args = out, args
        self.last_sample = 0
        self.every = args.sample_every

    def __call__(self, model, record: dict) -> None:
        from tqdm.auto import tqdm

        step = record["step"]
        if record.get("improved"):
            model.n_steps_ = model.best_step_ = step  # fit sets the final values at the end
            _save(
                model, self.out, self.args.stored
            )  # atomic: an interrupted save keeps the previous file
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


def _save(model, out: Path, stored: dict | None = None) -> None:
    """Save without the CLI's own settings (callables cannot be stored; no progress bar) and
    with the ``stored`` parameters instead of the ones in use."""
    stored = stored or {}
    shown = {"callbacks": None, "verbose": False, **stored}
    keep = {k: v for k, v in model.get_params(deep=False).items() if k in shown}
    model.set_params(**{k: shown[k] for k in keep})
    try:
        model.save(out)
    finally:
        model.set_params(**keep)


def cmd_encode(args: argparse.Namespace) -> int:
    from charzoo.encoded import encode_file

    source = Path(args.text)
    if source.is_dir():
        raise CLIError(f"{args.text} is a directory, expected a text file")
    if not source.is_file():
        raise CLIError(f"no such file: {args.text}")
    encoded = encode_file(source, args.output, encoding=args.encoding, verbose=not args.quiet)
    say(
        args,
        f"wrote {args.output}: {len(encoded)} ids ({encoded.ids.dtype}), "
        f"{len(encoded.chars)} distinct characters",
    )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from charzoo.registry import registered_name

    model = load_model_spec(args.model_file)
    if hasattr(model, "classes_"):  # a CharLMClassifier
        from charzoo.cli.classify import print_classifier_info

        return print_classifier_info(model, args.model_file)
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
            f"training        {getattr(model, 'n_steps_', '?')} steps in all (resumed fits "
            "included), stopped: "
            f"{getattr(model, 'stop_reason_', '?')}, best step {getattr(model, 'best_step_', '?')}"
            f"{best}, last train loss {history['train_loss'][-1]:.4f}"
        )
    presets = model_presets(type(model))
    if presets:
        print(f"presets         {', '.join(sorted(presets))} (charzoo models --presets)")
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
    print_table(rows, ("name", "model", "data", "description"))
    return 0

