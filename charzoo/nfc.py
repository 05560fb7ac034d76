"""NFC in generation: sampled texts are NFC, hold only vocabulary characters and always score.

The tokenizer NFC-normalises every text, so its vocabulary can hold a base letter (``a``) and
a combining mark (``U+0301``) as separate characters (from a text where the mark follows a
letter with no precomposed form, ``q\\u0301``). A model may then sample ``a`` followed by
``U+0301``, which NFC turns into ``á``: a character the vocabulary lacks, so the model could
not score its own sample. Generation therefore never samples a character that would compose
with (or be reordered before) the character just before it: :func:`forbidden_pairs` marks
such (previous, next) pairs of the vocabulary, and :func:`charzoo.sampler.sample` masks them
out. A text whose NFC form would still leave the vocabulary (a composition across more than
two characters, which pairs cannot see) is cut before the offending character
(:func:`nfc_in_vocabulary`). Vocabularies without combining characters (most) are unaffected.
"""

from __future__ import annotations

import unicodedata

import torch

from charzoo.tokenizer import BOUNDARY_ID, normalize

__all__ = ["forbidden_pairs", "nfc_in_vocabulary"]


def _may_follow(ch: str) -> bool:
    """Whether NFC may change ``ch`` after another character: combining marks (the second
    characters of canonical compositions are marks, Indic vowel signs or Hangul jamo)."""
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Mc")
        or 0x1161 <= ord(ch) <= 0x11C2  # Hangul vowel and final jamo
    )


def forbidden_pairs(chars: list[str]) -> torch.Tensor | None:
    """A ``(V, V)`` bool tensor, ``[previous id, next id]`` True where appending the next
    character to the previous one is not NFC; None when no pair of ``chars`` is (the
    boundary id 0 and every id of a vocabulary without combining characters).

    Examples
    --------
    >>> from charzoo.nfc import forbidden_pairs
    >>> forbidden_pairs(["a", "b"]) is None
    True
    >>> pairs = forbidden_pairs(["a", "q", "\\u0301"])  # ids 1, 2, 3
    >>> bool(pairs[1, 3]), bool(pairs[2, 3])  # a + acute composes; q + acute stays
    (True, False)
    """
    if all(ch.isascii() for ch in chars):
        return None
    late = [i for i, ch in enumerate(chars) if _may_follow(ch)]
    if not late:
        return None
    table = torch.zeros(len(chars) + 1, len(chars) + 1, dtype=torch.bool)
    for j in late:
        after = chars[j]
        for i, before in enumerate(chars):
            if normalize(before + after) != before + after:
                table[i + 1, j + 1] = True
    table[BOUNDARY_ID, :] = False
    return table if bool(table.any()) else None


def nfc_in_vocabulary(prefix: str, continuation: str, vocabulary: set[str]) -> str:
    """``prefix + continuation`` in NFC, the continuation cut before the first character whose
    addition would put a character outside ``vocabulary`` (and the prefix) into the text."""
    allowed = vocabulary | set(normalize(prefix))  # the caller's own prefix stays
    for end in range(len(continuation), -1, -1):
        text = normalize(prefix + continuation[:end])
        if all(ch in allowed for ch in text):
            return text
    return normalize(prefix)
