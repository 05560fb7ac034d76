"""Character tokenizer shared by every model.

Id 0 is reserved for the *boundary* token: it pads the context before the first character of
a document and marks its end. It is an id, not a character, so no text can contain it.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["BOUNDARY_ID", "CharTokenizer"]

BOUNDARY_ID = 0
_HANDLE_UNKNOWN = ("error", "ignore")


def normalize(text: str) -> str:
    """Return ``text`` in Unicode normal form NFC (composed characters)."""
    if text.isascii():  # ASCII is already NFC; the check is a flag lookup
        return text
    return unicodedata.normalize("NFC", text)


class CharTokenizer:
    """Map characters to integer ids and back.

    Parameters
    ----------
    handle_unknown : {"error", "ignore"}, default="error"
        What :meth:`encode` does with a character not seen in :meth:`fit`: raise a
        ``ValueError`` naming it, or drop it from the text.

    Attributes
    ----------
    chars : list of str
        The vocabulary in id order, starting at id 1 (id 0 is the boundary token).
    """

    def __init__(self, handle_unknown: str = "error") -> None:
        if handle_unknown not in _HANDLE_UNKNOWN:
            raise ValueError(
                f"handle_unknown must be one of {_HANDLE_UNKNOWN}, got {handle_unknown!r}"
            )
        self.handle_unknown = handle_unknown
        self.chars: list[str] = []
        self._index: dict[str, int] = {}

    def fit(self, texts: Iterable[str]) -> CharTokenizer:
        """Learn the sorted set of (NFC-normalised) characters in ``texts``."""
        alphabet: set[str] = set()
        for text in texts:
            alphabet.update(normalize(text))
        self._set_chars(sorted(alphabet))
        return self

    def _set_chars(self, chars: Sequence[str]) -> None:
        self.chars = list(chars)
        self._index = {ch: i + 1 for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        """Number of ids, the boundary token included."""
        return len(self.chars) + 1

    def encode(
        self, text: str, *, position: int | None = None, handle_unknown: str | None = None
    ) -> np.ndarray:
        """Encode one text to an int64 array of ids (no boundary tokens added).

        Parameters
        ----------
        text : str
            The text; it is NFC-normalised first.
        position : int, optional
            Index of the text in its list, quoted in the error message.
        handle_unknown : {"error", "ignore"}, optional
            Overrides the tokenizer's own setting for this call.

        Raises
        ------
        ValueError
            If ``handle_unknown="error"`` and the text holds a character outside the vocabulary.
        """
        index = self._index
        strict = (handle_unknown or self.handle_unknown) == "error"
        ids = []
        for ch in normalize(text):
            i = index.get(ch)
            if i is not None:
                ids.append(i)
            elif strict:
                where = f"text at index {position}" if position is not None else "text"
                raise ValueError(
                    f"character {ch!r} (U+{ord(ch):04X}) in {where} {_preview(text)} was not "
                    "seen during fit; use only characters from the training texts or set "
                    "handle_unknown='ignore' to drop unseen characters"
                )
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into text; boundary ids are skipped."""
        chars = self.chars
        return "".join(chars[i - 1] for i in ids if i != BOUNDARY_ID)

    def to_json(self) -> str:
        """Serialise the tokenizer to a JSON string."""
        return json.dumps(
            {"chars": self.chars, "handle_unknown": self.handle_unknown}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, data: str) -> CharTokenizer:
        """Rebuild a tokenizer written by :meth:`to_json`."""
        obj = json.loads(data)
        tokenizer = cls(handle_unknown=obj.get("handle_unknown", "error"))
        tokenizer._set_chars(obj["chars"])
        return tokenizer

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def _preview(text: str, width: int = 30) -> str:
    return repr(text if len(text) <= width else text[:width] + "...")


def fitted_copy(tokenizer: object, handle_unknown: str) -> CharTokenizer:
    """A copy of a fitted ``tokenizer`` (as passed to ``fit``) with ``handle_unknown``; a
    ``TypeError`` when it is not a fitted :class:`CharTokenizer`."""
    if not isinstance(tokenizer, CharTokenizer) or not tokenizer.chars:
        raise TypeError(
            f"tokenizer must be a fitted charzoo CharTokenizer, got {tokenizer!r}; build one "
            "with CharTokenizer().fit(texts)"
        )
    copy = CharTokenizer(handle_unknown=handle_unknown)
    copy._set_chars(tokenizer.chars)
    return copy
