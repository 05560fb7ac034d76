"""What the command line reads: data specs, ``--param`` values, model files and presets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = [
    "BUNDLED",
    "CLIError",
    "load_model_spec",
    "members_from_specs",
    "model_presets",
    "parse_params",
    "print_table",
    "read_data",
    "read_text_file",
]

BUNDLED = ("names", "dinos", "shakespeare")


class CLIError(ValueError):
    """A user error reported as one line."""


# --------------------------------------------------------------------------------- helpers
def read_data(
    spec: str, mode: str | None, mode_from: str = "--mode document", *, lowercase: bool = False
) -> tuple[list[str], str]:
    """Texts of DATA (a path or a bundled corpus) and the mode they are meant for, folded to
    lower case with ``lowercase``; ``mode_from`` says where a ``mode`` comes from (for the
    messages)."""
    texts, mode = _read_data(spec, mode, mode_from)
    if lowercase:
        if not isinstance(texts, list):
            raise CLIError(f"--lowercase cannot fold {spec}, an encoded corpus (ids)")
        texts = [t.lower() for t in texts]
    return texts, mode


def _read_data(spec: str, mode: str | None, mode_from: str) -> tuple[list[str], str]:
    from charzoo import datasets

    path = Path(spec)
    if _is_encoded(path):  # an encoded corpus (by its magic bytes, whatever its suffix)
        from charzoo.encoded import EncodedCorpus

        if mode == "document":
            fix = (
                "drop --mode document"
                if mode_from.startswith("--mode")
                else "pass a text file (one text per line)"
            )
            raise CLIError(
                f"{spec} is an encoded corpus (one stream), but {mode_from} needs documents; {fix}"
            )
        try:
            return EncodedCorpus(path), "stream"
        except ValueError as exc:
            raise CLIError(str(exc)) from None
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


def _is_encoded(path: Path) -> bool:
    """Whether ``path`` is a ``.czb`` file: it starts with the magic bytes (a ``.czb`` suffix
    in any case that lacks them is still read as one, to report what is wrong)."""
    from charzoo.encoded import MAGIC

    if not path.is_file():
        return False
    if path.suffix.lower() == ".czb":
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_text_file(path: Path) -> str:
    """A text file as charzoo reads it: UTF-8, a leading byte-order mark dropped, universal
    newlines (``\r\n`` and ``\r`` become ``\n``)."""
    try:
        with open(path, encoding="utf-8-sig", newline=None) as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_params(items: list[str], valid: set[str], model: str, what: str = "--param") -> dict:
    """``key=value`` items as hyperparameters of ``model`` (values read by
    :func:`charzoo.utils.parse_literal`); ``what`` names the option in error messages."""
    from charzoo.utils import parse_literal

    params = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise CLIError(f"{what} expects key=value, got {item!r}")
        if key not in valid:
            raise CLIError(
                f"{what}: model {model!r} has no parameter {key!r}; its parameters: "
                + ", ".join(sorted(valid))
            )
        params[key] = parse_literal(raw)
    return params


def load_model_spec(spec: str, threads: int | None = None):
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


def model_presets(cls: type) -> dict[str, dict]:
    """Named settings of a model class (its ``presets``, see :mod:`charzoo.presets`)."""
    return dict(getattr(cls, "presets", None) or {})


def print_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def members_from_specs(specs: list[str]) -> list:
    """Mixture members from command-line specs ``model[:key=value,...]`` (e.g.
    ``ngram:order=5``).

    Each member is named after its model, with ``-2``, ``-3``... for repeats; values are read
    as Python/JSON literals (``5``, ``0.1``, ``true``) or else kept as strings.

    Parameters
    ----------
    specs : list of str

    Returns
    -------
    list of (str, CharLM)
        Unfitted members, for ``CharMixture(estimators=...)``.
    """
    from charzoo.registry import create_model, get_model_class

    members: list = []
    for spec in specs:
        model, _, rest = spec.partition(":")
        model = model.strip()
        valid = set(get_model_class(model)().get_params(deep=False))
        items = [p.strip() for p in rest.split(",") if p.strip()]
        params = parse_params(items, valid, model, what=f"--member {spec!r}")
        taken = {n for n, _ in members}
        name, i = model, 1
        while name in taken:
            i += 1
            name = f"{model}-{i}"
        members.append((name, create_model(model, **params)))
    if not members:
        raise CLIError("a mixture needs at least one --member")
    return members


def say(args: argparse.Namespace, message: str) -> None:
    """Print a progress message on stderr unless ``--quiet``."""
    if not args.quiet:
        print(message, file=sys.stderr)
