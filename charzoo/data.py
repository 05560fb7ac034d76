"""Input validation, encoded corpora and the window view shared by the models.

A :class:`Corpus` holds every text of a fit or score call as one flat tensor of *target* ids:
the ids a model must predict, text after text. In document mode each text contributes its
characters followed by the boundary id (the end marker); in stream mode only its characters.
The context before the first target of each text is boundary ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from charzoo.tokenizer import BOUNDARY_ID, CharTokenizer, normalize

__all__ = ["MODES", "Corpus", "WindowData", "check_texts", "encode_corpus", "resolve_mode"]

MODES = ("auto", "document", "stream")


def check_texts(texts: object, *, name: str = "texts", for_fit: bool = False) -> list[str]:
    """Validate a collection of texts and return it as a list of ``str``.

    Accepts any iterable of ``str`` (lists, tuples, generators, numpy arrays, pandas Series)
    and a table with a single column of texts (a one-column DataFrame or ``(n, 1)`` array).

    Raises
    ------
    TypeError
        If ``texts`` is a single string/bytes, not iterable, or holds a non-string item
        (the message gives its index and type).
    ValueError
        If ``texts`` is empty or, when ``for_fit``, every text is empty, if a text holds a lone
        surrogate, or if ``texts`` is a table with several columns.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"{name} must be a list of strings, got a single {type(texts).__name__}; pass "
            "[text] to fit one long corpus (stream mode) or a list such as ['emma', 'olivia']"
        )
    if texts is None or not isinstance(texts, Iterable):
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}")
    texts = _one_column(texts, name)
    result = list(texts)
    for i, text in enumerate(result):
        if type(text) is str:
            continue
        if not isinstance(text, str):
            raise TypeError(
                f"{name}[{i}] is {type(text).__name__} ({text!r:.40}), expected str; "
                "decode bytes and drop missing values before passing texts"
            )
        result[i] = str(text)  # a str subclass such as numpy.str_
    if not result:
        raise ValueError(f"{name} is empty; pass at least one text")
    if for_fit and not any(result):
        raise ValueError(f"every text in {name} is empty; there are no characters to learn from")
    check_surrogates(result, name)
    return result


def check_surrogates(texts: list[str], name: str = "texts") -> None:
    """Raise a ``ValueError`` naming the first text that holds a lone surrogate code point
    (half of a UTF-16 pair, e.g. from a file decoded with ``errors="surrogateescape"``)."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        for i, text in enumerate(texts):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                where = f"{name}[{i}]" if len(texts) > 1 or name == "texts" else name
                raise ValueError(
                    f"{where} holds a lone surrogate {text[exc.start]!r} at position "
                    f"{exc.start}, which is not a character; decode the input with "
                    "errors='replace' (or fix its encoding) before passing it"
                ) from None


def _one_column(texts: object, name: str) -> object:
    """A table (pandas/polars DataFrame, 2-D array) with one column becomes that column; a
    table with several columns is refused (charzoo would otherwise iterate over labels)."""
    shape = getattr(texts, "shape", None)
    if not isinstance(shape, tuple) or len(shape) < 2:
        return texts
    columns = getattr(texts, "columns", None)
    if len(shape) == 2 and shape[1] == 1:
        if columns is not None:
            return texts[list(columns)[0]]
        return texts[:, 0]
    labels = f" ({', '.join(map(str, list(columns)[:5]))})" if columns is not None else ""
    raise ValueError(
        f"{name} is a {len(shape)}-d table of shape {shape}{labels}; pass one column of "
        "texts, e.g. df['name'] or array[:, 0]"
    )


def resolve_mode(mode: str, n_texts: int) -> str:
    """Turn ``mode="auto"`` into ``"stream"`` for a single text, ``"document"`` otherwise."""
    if mode == "auto":
        return "stream" if n_texts == 1 else "document"
    return mode


@dataclass
class Corpus:
    """Encoded texts: the flat target ids and where each text's targets lie.

    Attributes
    ----------
    targets : torch.LongTensor of shape (n_targets,)
        Ids to predict, text after text (document mode appends the end marker to each text).
    lengths : torch.LongTensor of shape (n_texts,)
        Number of targets of each text.
    mode : {"document", "stream"}
    """

    targets: torch.Tensor
    lengths: torch.Tensor
    mode: str

    @property
    def n_texts(self) -> int:
        return len(self.lengths)

    @property
    def starts(self) -> torch.Tensor:
        """Offset of each text's first target in :attr:`targets`."""
        return torch.cumsum(self.lengths, 0) - self.lengths

    @property
    def text_index(self) -> torch.Tensor:
        """For each target, the index of the text it belongs to."""
        return torch.repeat_interleave(torch.arange(self.n_texts), self.lengths)


def encode_corpus(
    tokenizer: CharTokenizer, texts: list[str], mode: str, handle_unknown: str | None = None
) -> Corpus:
    """Encode ``texts`` with ``tokenizer`` into a :class:`Corpus` for ``mode``."""
    fast = _encode_known(tokenizer, texts, mode)
    if fast is not None:
        return fast
    # some character is outside the vocabulary: text by text, to raise or drop it
    end = [np.array([BOUNDARY_ID], dtype=np.int64)] if mode == "document" else []
    pieces = []
    lengths = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        ids = tokenizer.encode(text, position=i, handle_unknown=handle_unknown)
        pieces.append(ids)
        pieces.extend(end)
        lengths[i] = len(ids) + len(end)
    flat = np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64)
    return Corpus(torch.from_numpy(flat), torch.from_numpy(lengths), mode)


def _encode_known(tokenizer: CharTokenizer, texts: list[str], mode: str) -> Corpus | None:
    """All texts in one vectorised pass (the same ids as ``tokenizer.encode`` text by text),
    or ``None`` when some character is not in the vocabulary."""
    texts = [normalize(t) for t in texts]
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    vocab = np.array([ord(ch) for ch in tokenizer.chars], dtype=np.uint32)
    order = np.argsort(vocab)
    pos = np.searchsorted(vocab[order], codes).clip(max=max(len(vocab) - 1, 0))
    if len(codes) and (len(vocab) == 0 or not (vocab[order][pos] == codes).all()):
        return None
    ids = order[pos].astype(np.int64) + 1
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if mode == "document":  # room for the end marker after each text
        flat = np.full(len(ids) + len(texts), BOUNDARY_ID, dtype=np.int64)
        flat[np.arange(len(ids)) + np.repeat(np.arange(len(texts)), lengths)] = ids
        ids, lengths = flat, lengths + 1
    return Corpus(torch.from_numpy(ids), torch.from_numpy(lengths), mode)


def split_corpus(
    corpus: Corpus, fraction: float, generator: torch.Generator
) -> tuple[Corpus, Corpus]:
    """Hold out ``fraction`` of a corpus for validation.

    Document mode holds out a random subset of texts; stream mode the last ``fraction`` of each
    text (keeping each stream contiguous).
    """
    if corpus.mode == "document":
        order = torch.randperm(corpus.n_texts, generator=generator)
        # at least one text on each side (fit only splits two or more texts)
        n_val = min(max(1, int(round(fraction * corpus.n_texts))), corpus.n_texts - 1)
        return _select_texts(corpus, order[n_val:].sort().values), _select_texts(
            corpus, order[:n_val].sort().values
        )
    train_parts, val_parts = [], []
    for piece in torch.split(corpus.targets, corpus.lengths.tolist()):
        # at least one target on each side; a stream of one target is not split
        cut = max(min(len(piece) - max(1, int(round(fraction * len(piece)))), len(piece)), 1)
        train_parts.append(piece[:cut])
        val_parts.append(piece[cut:])
    return _from_parts(train_parts, "stream"), _from_parts(val_parts, "stream")


def _select_texts(corpus: Corpus, index: torch.Tensor) -> Corpus:
    pieces = torch.split(corpus.targets, corpus.lengths.tolist())
    return _from_parts([pieces[i] for i in index.tolist()], corpus.mode)


def _from_parts(parts: list[torch.Tensor], mode: str) -> Corpus:
    lengths = torch.tensor([len(p) for p in parts], dtype=torch.long)
    targets = torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)
    return Corpus(targets, lengths, mode)


class WindowData:
    """Fixed-size contexts for every target of a corpus, gathered lazily with tensor ops.

    Each text is laid out as ``block_size`` boundary ids followed by its targets, so the
    context of every target is the ``block_size`` ids before it. Memory stays O(corpus size);
    :meth:`batch` gathers the contexts of the requested targets only.

    Parameters
    ----------
    corpus : Corpus
    block_size : int
        Context length.
    """

    def __init__(self, corpus: Corpus, block_size: int) -> None:
        self.block_size = block_size
        lengths = corpus.lengths
        padded_starts = torch.cumsum(lengths + block_size, 0) - lengths  # first target of text
        self.positions = torch.repeat_interleave(padded_starts - corpus.starts, lengths) + (
            torch.arange(len(corpus.targets))
        )
        self.flat = torch.full((int((lengths + block_size).sum()),), BOUNDARY_ID, dtype=torch.long)
        self.flat[self.positions] = corpus.targets
        self._offsets = torch.arange(-block_size, 0)

    def __len__(self) -> int:
        return len(self.positions)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Contexts ``(len(index), block_size)`` and targets ``(len(index),)`` of some targets."""
        pos = self.positions[index]
        return self.flat[pos[:, None] + self._offsets], self.flat[pos]
