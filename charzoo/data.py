"""Input validation, encoded corpora and the window view shared by the models.

A :class:`Corpus` holds every text of a fit or score call as one flat tensor of *target* ids:
the ids a model must predict, text after text. In document mode each text contributes its
characters followed by the boundary id (the end marker); in stream mode only its characters.
The context before the first target of each text is boundary ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from charzoo.tokenizer import BOUNDARY_ID, CharTokenizer, normalize
from charzoo.utils import show_progress

__all__ = [
    "Corpus",
    "WindowData",
    "check_texts",
    "encode_corpus",
    "fit_tokenizer",
    "id_dtype",
    "resolve_mode",
]



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


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest integer dtype holding every id of a vocabulary of ``vocab_size`` ids:
    ``uint8`` up to 256 ids, ``int16`` up to 32,768 (the bytes of ``uint16`` for these
    non-negative ids, as nanoGPT stores them), ``int32`` above."""
    if vocab_size <= 256:
        return np.dtype(np.uint8)
    if vocab_size <= 32768:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


@dataclass
class Corpus:
    """Encoded texts: the flat target ids and where each text's targets lie.

    Attributes
    ----------
    targets : torch.Tensor of shape (n_targets,)
        Ids to predict, text after text (document mode appends the end marker to each text),
        in the compact dtype of :func:`id_dtype` (1, 2 or 4 bytes per character, never int64;
        it may be a view of a memory-mapped file, see :class:`charzoo.encoded.EncodedCorpus`).
        Consumers convert the ids they gather to int64 batch by batch.
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

    def head(self, n: int) -> Corpus:
        """The first ``n`` targets (a view; the last text kept is cut short)."""
        if n >= len(self.targets):
            return self
        ends = torch.cumsum(self.lengths, 0)
        lengths = (self.lengths - (ends - n).clamp(min=0)).clamp(min=0)
        keep = int((lengths > 0).sum())
        return Corpus(self.targets[:n], lengths[:keep], self.mode)


_ENCODE_CHUNK = 1 << 22  # characters normalised and encoded together (bounded temporaries)


def _pieces(texts: list[str]) -> Iterator[list[tuple[int, str, bool]]]:
    """Groups of ``(text index, piece, is last piece of its text)`` of about ``chunk``
    characters: short texts are grouped, long ones cut after a newline (a place where NFC
    normalisation of the pieces equals that of the whole text)."""
    group: list[tuple[int, str, bool]] = []
    size, chunk = 0, _ENCODE_CHUNK
    for i, text in enumerate(texts):
        begin = 0
        while len(text) - begin > chunk:
            cut = text.rfind("\n", begin, begin + chunk) + 1
            if cut <= begin:  # no newline in the piece: find the next one
                cut = text.find("\n", begin + chunk) + 1 or len(text)
            if cut >= len(text):
                break
            if group:
                yield group
                group, size = [], 0
            yield [(i, text[begin:cut], False)]
            begin = cut
        piece = text[begin:] if begin else text
        group.append((i, piece, True))
        size += len(piece)
        if size >= chunk:
            yield group
            group, size = [], 0
    if group:
        yield group


def fit_tokenizer(
    texts: list[str], handle_unknown: str = "error", *, verbose: bool | int = False
) -> CharTokenizer:
    """A :class:`CharTokenizer` fitted on ``texts`` (the same as ``CharTokenizer.fit``), in
    chunks with a progress bar when ``verbose``."""
    alphabet: set[str] = set()
    with _progress(texts, verbose, "vocabulary") as bar:
        for group in _pieces(texts):
            for _, piece, _ in group:
                alphabet.update(normalize(piece))
            bar.update(sum(len(p) for _, p, _ in group))
    tokenizer = CharTokenizer(handle_unknown=handle_unknown)
    tokenizer._set_chars(sorted(alphabet))
    return tokenizer


def _progress(texts: list[str], verbose: bool | int | str, desc: str) -> tqdm:
    verbose = show_progress(verbose)  # "auto": in interactive use only
    n_chars = sum(map(len, texts)) if verbose else 0
    return tqdm(
        total=n_chars,
        desc=desc,
        unit="char",
        unit_scale=True,
        disable=not verbose or n_chars < _ENCODE_CHUNK,
        leave=False,
    )


def _code_table(tokenizer: CharTokenizer) -> np.ndarray:
    """``table[code point] = id`` for the vocabulary, -1 elsewhere (last entry: any larger
    code point)."""
    codes = np.array([ord(ch) for ch in tokenizer.chars], dtype=np.int64)
    table = np.full(int(codes.max(initial=0)) + 2, -1, dtype=np.int32)
    table[codes] = np.arange(1, len(codes) + 1, dtype=np.int32)
    return table


def encode_corpus(
    tokenizer: CharTokenizer,
    texts: list[str],
    mode: str,
    handle_unknown: str | None = None,
    *,
    verbose: bool | int = False,
) -> Corpus:
    """Encode ``texts`` with ``tokenizer`` into a :class:`Corpus` for ``mode``.

    Texts are normalised and encoded in chunks of about four million characters (temporary
    memory stays bounded; the ids are stored in the dtype of :func:`id_dtype`), with a
    progress bar when ``verbose`` and the texts hold more than one chunk.
    """
    dtype = id_dtype(tokenizer.vocab_size)
    table = _code_table(tokenizer)
    parts: list[np.ndarray] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    with _progress(texts, verbose, "encoding") as bar:
        for group in _pieces(texts):
            pieces = [normalize(p) for _, p, _ in group]
            codes = np.frombuffer("".join(pieces).encode("utf-32-le"), dtype=np.uint32)
            ids = table[np.minimum(codes, len(table) - 1)]
            if (ids < 0).any():  # some character is outside the vocabulary: the slow path
                bar.close()
                return _encode_checked(tokenizer, texts, mode, handle_unknown)
            sizes = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
            owner = np.fromiter((i for i, _, _ in group), dtype=np.int64, count=len(group))
            last = np.fromiter((e for _, _, e in group), dtype=bool, count=len(group))
            if mode == "document" and last.any():  # room for the end marker after each text
                flat = np.full(len(ids) + int(last.sum()), BOUNDARY_ID, dtype=dtype)
                shift = np.cumsum(last) - last
                flat[np.arange(len(ids)) + np.repeat(shift, sizes)] = ids
                ids, sizes = flat, sizes + last
            np.add.at(lengths, owner, sizes)
            parts.append(ids.astype(dtype, copy=False))
            bar.update(sum(len(p) for _, p, _ in group))
    flat = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.empty(0, dtype)
    return Corpus(torch.from_numpy(flat), torch.from_numpy(lengths), mode)


def _encode_checked(
    tokenizer: CharTokenizer, texts: list[str], mode: str, handle_unknown: str | None
) -> Corpus:
    """Text by text, to raise on (naming the text and character) or drop unknown characters."""
    dtype = id_dtype(tokenizer.vocab_size)
    end = [np.array([BOUNDARY_ID], dtype=dtype)] if mode == "document" else []
    pieces = []
    lengths = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        ids = tokenizer.encode(text, position=i, handle_unknown=handle_unknown).astype(dtype)
        pieces.append(ids)
        pieces.extend(end)
        lengths[i] = len(ids) + len(end)
    flat = np.concatenate(pieces) if pieces else np.empty(0, dtype=dtype)
    return Corpus(torch.from_numpy(flat), torch.from_numpy(lengths), mode)


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
    if corpus.n_texts == 1:  # one stream: views, no copy (it may be memory-mapped)
        targets = corpus.targets
        # at least one target on each side; a stream of one target is not split
        cut = max(min(len(targets) - max(1, int(round(fraction * len(targets)))), len(targets)), 1)
        return (
            Corpus(targets[:cut], torch.tensor([cut]), "stream"),
            Corpus(targets[cut:], torch.tensor([len(targets) - cut]), "stream"),
        )
    train_parts, val_parts = [], []
    for piece in torch.split(corpus.targets, corpus.lengths.tolist()):
        # at least one target on each side; a stream of one target is not split
        cut = max(min(len(piece) - max(1, int(round(fraction * len(piece)))), len(piece)), 1)
        train_parts.append(piece[:cut])
        val_parts.append(piece[cut:])
    dtype = corpus.targets.dtype
    return _from_parts(train_parts, "stream", dtype), _from_parts(val_parts, "stream", dtype)


def _select_texts(corpus: Corpus, index: torch.Tensor) -> Corpus:
    pieces = torch.split(corpus.targets, corpus.lengths.tolist())
    return _from_parts([pieces[i] for i in index.tolist()], corpus.mode, corpus.targets.dtype)


def _from_parts(parts: list[torch.Tensor], mode: str, dtype: torch.dtype) -> Corpus:
    lengths = torch.tensor([len(p) for p in parts], dtype=torch.long)
    targets = torch.cat(parts) if parts else torch.empty(0, dtype=dtype)
    return Corpus(targets, lengths, mode)


class WindowData:
    """Fixed-size contexts for every target of a corpus, gathered lazily with tensor ops.

    The context of a target is the ``block_size`` ids before it in its text, with boundary
    ids before the text's start. Nothing is stored per target beyond the corpus itself (no
    padded copy, so a memory-mapped corpus stays on disk); :meth:`batch` gathers the contexts
    of the requested targets only and returns them as int64.

    Parameters
    ----------
    corpus : Corpus
    block_size : int
        Context length.
    """

    def __init__(self, corpus: Corpus, block_size: int) -> None:
        self.block_size = block_size
        self.targets = corpus.targets
        self._ends = torch.cumsum(corpus.lengths, 0)
        self._starts = self._ends - corpus.lengths
        self._offsets = torch.arange(-block_size, 0)

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Contexts ``(len(index), block_size)`` and targets ``(len(index),)`` of some targets."""
        index = index.long()
        if len(self._starts) == 1:
            inner = index
        else:
            text = torch.searchsorted(self._ends, index, right=True)
            inner = index - self._starts[text]  # position of each target in its text
        pos = index[:, None] + self._offsets
        context = self.targets[pos.clamp(min=0)].long()
        context = context.masked_fill_(inner[:, None] + self._offsets < 0, BOUNDARY_ID)
        return context, self.targets[index].long()
