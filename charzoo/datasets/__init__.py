"""Small real corpora bundled with charzoo, so examples and tests run offline.

See ``data/README.md`` next to this file for provenance and licences.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from importlib import resources

from sklearn.model_selection import train_test_split

__all__ = ["load_names", "load_dinos", "load_shakespeare", "train_val_test_split"]


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
