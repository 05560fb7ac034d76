"""Encoded corpora on disk: encode a text file once, then train on it memory-mapped.

``charzoo encode corpus.txt -o corpus.czb`` (or :func:`encode_file`) writes the character ids
of a text to a ``.czb`` file; :class:`EncodedCorpus` maps it back without reading it into
memory, so a model trains on a corpus larger than RAM (as nanoGPT trains on a memory-mapped
``train.bin`` of uint16 ids)::

    from charzoo import CharGRU
    from charzoo.encoded import EncodedCorpus, encode_file

    encode_file("corpus.txt", "corpus.czb", verbose=True)
    model = CharGRU(max_steps=2000).fit(EncodedCorpus("corpus.czb"))

A ``.czb`` file holds one stream (fitting on it is stream mode) in this layout, all integers
little-endian:

==========  =================================================================================
bytes       content
==========  =================================================================================
0-7         magic ``b"CHARZOO\\x1a"``
8-11        format version (uint32), currently 1
12-15       length ``H`` of the JSON header in bytes (uint32)
16-(16+H)   UTF-8 JSON header: ``{"chars": [...], "dtype": "uint8" | "int16" | "int32",
            "n_ids": N, "normalization": "NFC"}``; ``chars`` is the vocabulary in id order
            from id 1 (id 0 is the boundary id, never stored)
then        zero padding up to a multiple of 64 bytes
then        ``N`` ids of ``dtype`` (int16 ids are non-negative: the same bytes as uint16)
==========  =================================================================================
"""

from __future__ import annotations

import codecs
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from charzoo.data import Corpus, _code_table, id_dtype
from charzoo.tokenizer import CharTokenizer, normalize
from charzoo.utils import show_progress

__all__ = ["EncodedCorpus", "encode_file", "fit_inputs", "write_encoded"]

MAGIC = b"CHARZOO\x1a"
VERSION = 1
_ALIGN = 64
_READ_CHARS = 1 << 22  # characters read, normalised and encoded at a time
_DTYPES = ("uint8", "int16", "int32")


class EncodedCorpus:
    """A ``.czb`` file of character ids, memory-mapped (see the module docstring).

    Pass it wherever a model takes texts to fit on (``model.fit(EncodedCorpus(path))``, also
    as ``validation_texts``) or to score (``model.score(EncodedCorpus(path))``): it is one
    stream, so the model is fitted in stream mode. Only the pages a batch touches are read.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`encode_file`, :func:`write_encoded` or ``charzoo encode``.

    Attributes
    ----------
    path : pathlib.Path
    chars : list of str
        The vocabulary in id order (id 1 onwards).
    ids : numpy.memmap
        The ids, read-only view of the file.

    Raises
    ------
    ValueError
        If the file is not a ``.czb`` file, has an unknown version or is truncated.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            head = handle.read(16)
            if len(head) < 16 or head[:8] != MAGIC:
                raise ValueError(
                    f"{self.path} is not an encoded corpus (.czb); write one with "
                    "`charzoo encode TEXT -o FILE.czb` or charzoo.encoded.encode_file"
                )
            version, size = struct.unpack("<II", head[8:16])
            if version != VERSION:
                raise ValueError(
                    f"{self.path} has .czb format version {version}; this charzoo reads "
                    f"version {VERSION}: re-encode the text with this version"
                )
            try:
                header = json.loads(handle.read(size).decode("utf-8"))
                chars, dtype, n_ids = header["chars"], header["dtype"], int(header["n_ids"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.path} has a damaged header ({exc})") from None
        if dtype not in _DTYPES:
            raise ValueError(f"{self.path}: unknown id dtype {dtype!r}; expected {_DTYPES}")
        problem = _vocabulary_problem(chars)
        if problem or n_ids < 0:
            raise ValueError(
                f"{self.path} has a damaged header ({problem or f'n_ids={n_ids}'}); re-encode "
                "the text with `charzoo encode`"
            )
        offset = _data_offset(size)
        expected = offset + n_ids * np.dtype(dtype).itemsize
        actual = self.path.stat().st_size
        if actual != expected:
            raise ValueError(
                f"{self.path} is truncated or damaged: {actual} bytes, expected {expected} "
                f"for {n_ids} ids; re-encode the text"
            )
        self.chars = list(chars)
        # copy-on-write mapping: pages are read from the file on demand and never written back
        self.ids = np.memmap(self.path, dtype=dtype, mode="c", offset=offset, shape=(n_ids,))

    def __len__(self) -> int:
        return len(self.ids)

    def _check_ids(self) -> None:
        """Refuse ids outside the vocabulary (a damaged file); checked once, in one pass."""
        if getattr(self, "_ids_checked", False) or len(self.ids) == 0:
            return
        top = int(self.ids.max())
        if top > len(self.chars) or int(self.ids.min()) < 1:
            raise ValueError(
                f"{self.path} is damaged: it holds ids outside its vocabulary of "
                f"{len(self.chars)} characters (1..{len(self.chars)}); re-encode the text"
            )
        self._ids_checked = True

    def __repr__(self) -> str:
        return f"EncodedCorpus({str(self.path)!r}, {len(self)} ids, {len(self.chars)} chars)"

    @property
    def tokenizer(self) -> CharTokenizer:
        """A :class:`~charzoo.tokenizer.CharTokenizer` with this file's vocabulary."""
        tokenizer = CharTokenizer()
        tokenizer._set_chars(self.chars)
        return tokenizer

    def decode(self, start: int = 0, stop: int | None = None) -> str:
        """The text of ids ``start:stop``."""
        return self.tokenizer.decode(self.ids[start:stop].tolist())

    def to_corpus(
        self, tokenizer: CharTokenizer | None = None, handle_unknown: str = "error"
    ) -> Corpus:
        """The ids as a stream-mode :class:`~charzoo.data.Corpus`.

        With no ``tokenizer`` (or one with the same vocabulary) the corpus is a view of the
        mapped file. Otherwise the ids are translated to ``tokenizer``'s ids in memory;
        characters it does not know raise (``handle_unknown="error"``) or are dropped.
        """
        self._check_ids()
        if tokenizer is None or tokenizer.chars == self.chars:
            targets = torch.from_numpy(self.ids)
            return Corpus(targets, torch.tensor([len(targets)]), "stream")
        index = {ch: i + 1 for i, ch in enumerate(tokenizer.chars)}
        mapping = np.array([0] + [index.get(ch, -1) for ch in self.chars], dtype=np.int64)
        ids = mapping[self.ids]
        unknown = ids < 0
        if unknown.any():
            if handle_unknown == "error":
                seen = "".join(self.chars[i - 1] for i in np.unique(self.ids[unknown])[:20])
                raise ValueError(
                    f"{self.path} holds characters the model never saw in fit: {seen!r}; "
                    "pass handle_unknown='ignore' to drop them"
                )
            ids = ids[~unknown]
        targets = torch.from_numpy(ids.astype(id_dtype(tokenizer.vocab_size)))
        return Corpus(targets, torch.tensor([len(targets)]), "stream")


def _vocabulary_problem(chars: object) -> str | None:
    """Why a header's ``chars`` is not a vocabulary: sorted distinct single NFC characters."""
    if not isinstance(chars, list) or not chars:
        return "no character list"
    for ch in chars:
        if not isinstance(ch, str) or len(ch) != 1:
            return f"vocabulary entry {ch!r} is not a single character"
        if normalize(ch) != ch:
            return f"vocabulary entry {ch!r} (U+{ord(ch):04X}) is not in NFC"
    if any(a >= b for a, b in zip(chars, chars[1:])):
        return "the vocabulary is not sorted distinct characters (a duplicate or swap)"
    return None


def _temp_beside(output: Path) -> Path:
    """A new, uniquely named temp file beside ``output`` (two processes writing one output
    never share one); ``output`` must not be a directory."""
    if output.is_dir():
        raise ValueError(f"cannot write {output}: it is a directory; name a .czb file")
    from charzoo.model_file import _new_file_mode

    fd, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(fd)
    os.chmod(name, _new_file_mode(output))  # what a plain new file (or the old one) gets
    return Path(name)


def fit_inputs(
    encoded: EncodedCorpus, mode: str, handle_unknown: str, fitted: tuple | None = None
) -> tuple[CharTokenizer, int, Corpus]:
    """What a fit takes from an :class:`EncodedCorpus`: the vocabulary (the file's, or the
    fitted one for a warm start), the corpus length (the longest text) and the training
    corpus (a view of the file; a warm start translates the ids to the fitted vocabulary).

    Parameters
    ----------
    encoded : EncodedCorpus
    mode : str
        The estimator's ``mode`` parameter (an encoded corpus is one stream).
    handle_unknown : {"error", "ignore"}
    fitted : (CharTokenizer, str) or None
        The tokenizer and data mode of a model being warm-started, else None.
    """
    if mode == "document":
        raise ValueError(
            f"mode='document' cannot fit {encoded!r}: an encoded corpus is one stream; "
            "use mode='auto' or 'stream', or fit a list of texts"
        )
    if len(encoded) == 0:
        raise ValueError(f"{encoded.path} holds no characters to learn from")
    if fitted is None:
        tokenizer = encoded.tokenizer
        tokenizer.handle_unknown = handle_unknown
    else:
        tokenizer, fitted_mode = fitted
        if fitted_mode != "stream":
            raise ValueError(
                f"warm_start: the model was fitted in {fitted_mode!r} mode and cannot continue "
                "on an encoded corpus (one stream)"
            )
    return tokenizer, len(encoded), encoded.to_corpus(tokenizer, "error")


def _data_offset(header_size: int) -> int:
    return -(-(16 + header_size) // _ALIGN) * _ALIGN


def _write_header(
    handle, chars: list[str], dtype: np.dtype, n_ids: int, size: int | None = None
) -> int:
    """Write the magic, version and JSON header (space-padded to ``size`` bytes, so that it
    can be rewritten in place once ``n_ids`` is known); return the header's size."""
    header = json.dumps(
        {"chars": chars, "dtype": dtype.name, "n_ids": n_ids, "normalization": "NFC"},
        ensure_ascii=False,
    ).encode("utf-8")
    header = header.ljust(size or len(header), b" ")
    handle.write(MAGIC + struct.pack("<II", VERSION, len(header)) + header)
    handle.write(b"\0" * (_data_offset(len(header)) - 16 - len(header)))
    return len(header)


def write_encoded(text: str, path: str | os.PathLike) -> EncodedCorpus:
    """Encode one text already in memory to a ``.czb`` file (its vocabulary is its own
    characters) and return it mapped.

    Parameters
    ----------
    text : str
    path : str or path-like

    Returns
    -------
    EncodedCorpus
    """
    from charzoo.data import encode_corpus, fit_tokenizer

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    tokenizer = fit_tokenizer([text])
    ids = encode_corpus(tokenizer, [text], "stream").targets.numpy()
    tmp = _temp_beside(Path(path))
    try:
        with open(tmp, "wb") as handle:
            _write_header(handle, tokenizer.chars, ids.dtype, len(ids))
            handle.write(ids.tobytes())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return EncodedCorpus(path)


def _read_chunks(path: Path, encoding: str, bar: tqdm):
    """Normalised pieces of a text file, cut after newlines (NFC of the pieces = NFC of the
    whole), read ``_READ_CHARS`` characters at a time."""
    carry = ""
    # the same rules as every text file charzoo reads: a byte-order mark is dropped
    # (utf-8-sig) and "\r\n" / "\r" line ends read as "\n"
    with open(path, encoding=encoding, newline=None) as handle:
        while True:
            block = handle.read(_READ_CHARS)
            if not block:
                break
            bar.update(len(block.encode("utf-8")) if not block.isascii() else len(block))
            block = carry + block
            cut = block.rfind("\n") + 1
            if cut == 0 and len(block) < 16 * _READ_CHARS:
                carry = block  # no newline yet: wait for one (up to a limit)
                continue
            cut = cut or len(block)
            carry = block[cut:]
            yield normalize(block[:cut])
    if carry:
        yield normalize(carry)


def encode_file(
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    encoding: str = "utf-8-sig",
    verbose: bool | int = False,
) -> EncodedCorpus:
    """Encode a text file into a ``.czb`` file in two streaming passes (bounded memory).

    The first pass collects the vocabulary (NFC-normalised characters, sorted, as
    :class:`~charzoo.tokenizer.CharTokenizer` does), the second writes the ids in the
    smallest dtype for it. The output is written to a temporary file and renamed at the end.

    Parameters
    ----------
    source : str or path-like
        The text file (the whole file is one stream).
    output : str or path-like
        The ``.czb`` file to write.
    encoding : str, default="utf-8-sig"
    verbose : bool, default=False
        Show a progress bar (bytes read) for each pass.

    Returns
    -------
    EncodedCorpus

    Raises
    ------
    ValueError
        If the file does not decode with ``encoding`` or holds no characters.
    """
    source, output = Path(source), Path(output)
    total = source.stat().st_size

    def bar(desc: str) -> tqdm:
        return tqdm(
            total=total, desc=desc, unit="B", unit_scale=True, disable=not show_progress(verbose)
        )

    if output.is_dir():
        raise ValueError(f"cannot write {output}: it is a directory; name a .czb file")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ValueError(
            f"encoding={encoding!r} is not a text encoding Python knows; use e.g. 'utf-8', "
            "'utf-8-sig' or 'latin-1'"
        ) from None
    tmp = None
    try:
        alphabet: set[str] = set()
        with bar("vocabulary") as progress:
            for piece in _read_chunks(source, encoding, progress):
                alphabet.update(piece)
        if not alphabet:
            raise ValueError(f"{source} holds no text to encode")
        tokenizer = CharTokenizer()
        tokenizer._set_chars(sorted(alphabet))
        table = _code_table(tokenizer)
        dtype = id_dtype(tokenizer.vocab_size)
        tmp = _temp_beside(output)
        n_ids = 0
        with open(tmp, "wb") as handle, bar("encoding") as progress:
            size = _write_header(handle, tokenizer.chars, dtype, 0, None) + 24  # room for n_ids
            handle.seek(0)
            _write_header(handle, tokenizer.chars, dtype, 0, size)
            for piece in _read_chunks(source, encoding, progress):
                codes = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
                handle.write(table[np.minimum(codes, len(table) - 1)].astype(dtype).tobytes())
                n_ids += len(codes)
            handle.seek(0)
            _write_header(handle, tokenizer.chars, dtype, n_ids, size)
        os.replace(tmp, output)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{source} is not {encoding} text ({exc.reason} at byte {exc.start} of a block); "
            "pass the file's encoding"
        ) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)  # gone after the rename; removed after a failure
    return EncodedCorpus(output)
