"""The ``charzoo`` subcommands that use a fitted model: ``generate`` (with its constraints),
``next``, ``score`` and ``compare``; each ``cmd_*`` takes the parsed arguments and returns the
exit status."""

from __future__ import annotations

import argparse
from pathlib import Path

from charzoo.cli.inputs import CLIError, load_model_spec, read_data, say


def cmd_generate(args: argparse.Namespace) -> int:
    import numpy as np

    model = load_model_spec(args.model_file, args.threads)
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
    constraints = _constraints(args)
    if args.most_likely is not None:
        texts, scores = model.most_likely(
            args.most_likely,
            args.prefix,
            max_length=args.max_length,
            return_scores=True,
            **constraints,
        )
        for text, score in zip(texts, scores):
            print(f"{score:10.4f}  {text}")
        return 0
    samples = model.generate(args.n, random_state=rng, **options, **constraints)
    for text in samples:
        print(text)
    return 0


def cmd_next(args: argparse.Namespace) -> int:
    import numpy as np

    if args.top < 1:
        raise CLIError(f"--top must be at least 1, got {args.top}")
    model = load_model_spec(args.model_file, args.threads)
    proba = model.next_char_proba(args.prefixes)
    labels = [label or "<end>" for label in model.next_char_labels_]
    for prefix, row in zip(args.prefixes, proba):
        print(f"after {prefix!r}:")
        for j in np.argsort(-row, kind="stable")[: args.top]:
            label = (
                labels[j] if labels[j] == "<end>" or labels[j].isprintable() else repr(labels[j])
            )
            print(f"  {label:<6} {row[j]:.4f}")
    return 0


def _constraints(args: argparse.Namespace) -> dict:
    """The generate command's constraint options as keyword arguments of ``generate``."""
    exclude: list[str] = []
    if args.exclude_file:
        exclude += read_data(args.exclude_file, "document")[0]
    if args.novel:
        exclude += read_data(args.novel, "document")[0]
    return {
        "pattern": args.pattern,
        "length": args.length,
        "starts_with": args.starts,
        "ends_with": args.ends,
        "contains": args.contains,
        "not_contains": args.not_contains,
        "chars": args.chars,
        "exclude": exclude or None,
    }


def cmd_score(args: argparse.Namespace) -> int:
    from charzoo.metrics import bits_per_char, nll_from_perplexity

    model = load_model_spec(args.model_file, args.threads)
    texts, _ = read_data(
        args.data,
        model.mode_,
        f"the model in {args.model_file} (fitted on {model.mode_}s)",
        lowercase=args.lowercase,
    )
    try:
        ppl = model.score(texts)
    except ValueError as exc:
        folded = isinstance(texts, list) and not args.lowercase
        if folded and set("".join(texts).lower()) <= set(model.tokenizer_.chars):
            raise CLIError(f"{exc}; --lowercase folds {args.data} to lower case") from exc
        raise
    # the targets the model scored: characters of the NFC texts (minus those dropped by
    # handle_unknown="ignore"), plus one end marker per text in document mode
    n = len(model._encode(texts).targets)
    print(f"perplexity      {ppl:.4f}")
    print(f"nll             {nll_from_perplexity(ppl):.4f} nats/char")
    print(f"bits per char   {bits_per_char(ppl):.4f}")
    print(f"texts           {len(texts) if isinstance(texts, list) else 1}")
    print(f"predictions     {n}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from charzoo.comparison import compare

    models = {}
    for spec in args.models:
        name = Path(spec).stem if Path(spec).exists() else spec
        while name in models:
            name += "'"
        models[name] = load_model_spec(spec, args.threads)
    modes = {m.mode_ for m in models.values()}
    if len(modes) > 1:
        raise CLIError(f"the models were fitted in different modes ({', '.join(sorted(modes))})")
    texts, _ = read_data(args.data, modes.pop(), lowercase=args.lowercase)
    result = compare(models, texts)
    print(result)
    if args.plot:
        result.plot(path=args.plot)
        say(args, f"saved {args.plot}")
    return 0
