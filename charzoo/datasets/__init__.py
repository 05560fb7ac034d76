"""Small real corpora bundled with charzoo, so examples and tests run offline.

See ``data/README.md`` next to this file for provenance and licences.
"""

from __future__ import annotations

import gzip
import os
import sysconfig
from collections.abc import Sequence
from importlib import resources

from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

__all__ = [
    "load_names",
    "load_dinos",
    "load_shakespeare",
    "load_python_source",
    "python_source_paths",
    "train_val_test_split",
]


def _read_text(filename: str) -> str:
    data = resources.files(__package__).joinpath("data", filename).read_bytes()
    if filename.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def _read_lines(filename: str) -> list[str]:
    return [line for line in _read_text(filename).splitlines() if line]


def load_names() -> list[str]:
    """Load 32,032 lower-case English first names (makemore's ``names.txt``, MIT licence).

    Returns
    -------
    list of str
        One name per item, in file order.
    """
    return _read_lines("names.txt")


def load_dinos() -> list[str]:
    """Load 1,536 capitalised dinosaur genus names.

    Returns
    -------
    list of str
        One name per item, in file order.
    """
    return _read_lines("dinos.txt")


def load_shakespeare() -> str:
    """Load the tiny-shakespeare corpus (1.1 MB, public domain) as one string.

    Fit it in stream mode with ``model.fit([load_shakespeare()])``.

    Returns
    -------
    str
        The whole corpus, newlines included.
    """
    return _read_text("tinyshakespeare.txt.gz")


def python_source_paths() -> list[str]:
    """Every ``.py`` file of the standard library and the installed packages, sorted.

    The roots are ``sysconfig``'s ``stdlib``, ``platstdlib``, ``purelib`` and ``platlib``
    directories (site-packages lies inside the standard library's directory on most installs;
    each file is listed once, by its real path). ``__pycache__`` directories are skipped.

    Returns
    -------
    list of str
        Absolute real paths, sorted as strings.
    """
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    found: set[str] = set()
    for root in sorted(roots):
        _scan(root, found)
    return sorted(found)


def _scan(folder: str, found: set[str]) -> None:
    """Add the real paths of the ``.py`` files under ``folder`` (a real path) to ``found``,
    not descending into symbolic links to folders or ``__pycache__``."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    _scan(entry.path, found)
            elif entry.name.endswith(".py"):
                if not entry.is_symlink():
                    found.add(entry.path)  # under a real root, not through a link: real
                elif os.path.isfile(real := os.path.realpath(entry.path)):
                    found.add(real)
        except OSError:
            continue


def load_python_source(
    max_bytes: int | None = 10_000_000,
    *,
    shuffle: bool = True,
    random_state: int = 0,
    return_paths: bool = False,
) -> list[str] | tuple[list[str], list[str]]:
    """Load Python source files of this interpreter's standard library and installed packages.

    A large real corpus that exists on every machine without a download: a typical environment
    with torch, numpy and scikit-learn holds several hundred MB of ``.py`` text. The files are
    those of :func:`python_source_paths` (sorted real paths), visited in that order or, when
    ``shuffle``, in the order of a permutation drawn from ``random_state``; each visited file is
    kept whole if its size in bytes still fits in what remains of ``max_bytes``, is not empty
    and decodes as UTF-8 (undecodable files are skipped, never repaired). No file is truncated.

    The selection is deterministic for one installation, but its contents depend on which
    Python version and packages are installed: record ``len(paths)`` and a hash of ``paths``
    (``return_paths=True``) next to any result computed from it.

    Parameters
    ----------
    max_bytes : int or None, default=10_000_000
        Budget in bytes of UTF-8 source (file sizes on disk); ``None`` loads every file.
    shuffle : bool, default=True
        Visit files in a random order (a mix of packages at any budget) instead of sorted path
        order (where a small budget holds only the first few standard-library modules).
    random_state : int, default=0
        Seed of the permutation when ``shuffle``.
    return_paths : bool, default=False
        Also return the path of each text.

    Returns
    -------
    texts : list of str
        One text per file, in visiting order (split by file, e.g. 90/10, with ordinary list
        slicing or :func:`sklearn.model_selection.train_test_split`).
    paths : list of str
        Only if ``return_paths``: the absolute path of each text.

    Examples
    --------
    >>> from charzoo.datasets import load_python_source
    >>> texts = load_python_source(max_bytes=200_000)
    >>> sum(len(t.encode()) for t in texts) <= 200_000
    True
    """
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1
    ):
        raise ValueError(
            f"max_bytes must be a positive int or None, got {max_bytes!r}; "
            "pass e.g. max_bytes=10_000_000 for about 10 MB of source"
        )
    paths = python_source_paths()
    if shuffle:
        order = check_random_state(random_state).permutation(len(paths))
        paths = [paths[i] for i in order]
    left = float("inf") if max_bytes is None else max_bytes
    texts: list[str] = []
    kept: list[str] = []
    for path in paths:
        if left <= 0:
            break
        try:
            size = os.path.getsize(path)
            if size == 0 or size > left:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(text)
        kept.append(path)
        left -= len(data)
    return (texts, kept) if return_paths else texts


def train_val_test_split(
    texts: Sequence[str], random_state: int | None = None
) -> tuple[list[str], list[str], list[str]]:
    """Split texts 80/10/10 into train, validation and test lists.

    Exactly ``train, tmp = train_test_split(texts, test_size=0.2)`` followed by
    ``test, val = train_test_split(tmp, test_size=0.5)``, both with ``random_state``.

    Parameters
    ----------
    texts : sequence of str
        The texts to split.
    random_state : int or None
        Seed for both shuffles.

    Returns
    -------
    train, val, test : list of str
    """
    train, tmp = train_test_split(list(texts), test_size=0.2, random_state=random_state)
    test, val = train_test_split(tmp, test_size=0.5, random_state=random_state)
    return list(train), list(val), list(test)
