"""Generation constraints: checked arguments compiled to one automaton over a model's
vocabulary (see :mod:`charzoo.automaton`).

Every constraint is about the whole text, prefix included, after Unicode NFC normalisation
(the tokenizer's form): ``pattern`` must match it in full (a regular expression, compiled to
an automaton by the `interegular <https://pypi.org/project/interegular/>`_ library),
``length`` bounds its number of characters, ``starts_with``/``ends_with``/``contains``/
``not_contains``/``chars`` restrict it, and ``exclude`` lists texts it must not be. The
generation bound ``max_length`` (characters after the prefix) is one more length limit, so
the constrained language is always finite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from numbers import Integral

from charzoo.automaton import (
    Automaton,
    allowed_chars,
    contains,
    ends_with,
    excluded_texts,
    intersect,
    length_range,
    not_contains,
    starts_with,
)
from charzoo.tokenizer import CharTokenizer, normalize

__all__ = ["Constraints", "compile_constraints", "parse_length"]


@dataclass
class Constraints:
    """The checked constraint arguments of ``generate`` and ``most_likely``."""

    pattern: str | None = None
    length: tuple[int, int | None] | None = None
    starts_with: str | None = None
    ends_with: str | None = None
    contains: list[str] = field(default_factory=list)
    not_contains: list[str] = field(default_factory=list)
    chars: str | None = None
    exclude: list[str] = field(default_factory=list)
    fsm: object = field(default=None, repr=False)  # the pattern's interegular automaton

    @property
    def any(self) -> bool:
        """Whether any constraint is set."""
        return any(
            (
                self.pattern is not None,
                self.length is not None,
                self.starts_with,
                self.ends_with,
                self.contains,
                self.not_contains,
                self.chars is not None,
                self.exclude,
            )
        )

    @classmethod
    def from_args(cls, **kwargs: object) -> Constraints:
        """Check the user's arguments (a ``TypeError``/``ValueError`` naming the bad one)."""
        out = cls()
        pattern = kwargs.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise TypeError(f"pattern must be a str (a regular expression), got {pattern!r}")
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(
                    f"pattern={pattern!r} is not a valid regular expression ({err}); fix it"
                ) from None
            out.pattern = normalize(pattern)
            out.fsm = _pattern_fsm(out.pattern)
        if kwargs.get("length") is not None:
            out.length = parse_length(kwargs["length"])
        for name in ("starts_with", "ends_with", "chars"):
            value = kwargs.get(name)
            if value is not None:
                if not isinstance(value, str):
                    raise TypeError(f"{name} must be a str, got {type(value).__name__}: {value!r}")
                if name == "chars" and not value:
                    raise ValueError("chars='' allows no character; give the allowed characters")
                setattr(out, name, normalize(value))
        for name in ("contains", "not_contains"):
            setattr(out, name, _strings(kwargs.get(name), name, allow_empty=False))
        out.exclude = _strings(kwargs.get("exclude"), "exclude", allow_empty=True)
        return out

    def describe(self) -> str:
        """The set constraints as ``name=value`` text for messages."""
        parts = []
        for name in ("pattern", "length", "starts_with", "ends_with", "contains", "not_contains"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={value!r}")
        if self.chars is not None:
            parts.append(f"chars={self.chars!r}")
        if self.exclude:
            parts.append(f"exclude=<{len(self.exclude)} texts>")
        return ", ".join(parts)


def parse_length(value: object) -> tuple[int, int | None]:
    """``length`` as ``(low, high)``: an int, a ``(low, high)`` pair (``high`` may be None:
    no upper bound) or a string ``"6"``, ``"6-8"``, ``"6-"``."""
    hint = "give an int, a (low, high) pair or a string such as '6-8' or '6-'"
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:(-)\s*(\d*)\s*)?", value)
        if not match:
            raise ValueError(f"length={value!r} is not a length or range; {hint}")
        low = int(match[1])
        high = low if not match[2] else (int(match[3]) if match[3] else None)
        value = (low, high)
    elif isinstance(value, Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"length={value!r} is not a length or range; {hint}")
    low, high = value
    if isinstance(low, bool) or not isinstance(low, Integral) or low < 0:
        raise ValueError(f"length={value!r}: the minimum must be an integer >= 0; {hint}")
    if high is not None and (isinstance(high, bool) or not isinstance(high, Integral)):
        raise ValueError(f"length={value!r}: the maximum must be an integer or None; {hint}")
    if high is not None and high < low:
        raise ValueError(f"length={value!r}: the maximum is below the minimum; swap them")
    return int(low), None if high is None else int(high)


def _strings(value: object, name: str, allow_empty: bool) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{name} must be a str or a list of str, got {value!r}") from None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(item).__name__}: {item!r}")
        if not allow_empty and not item:
            raise ValueError(f"{name}[{i}] is the empty string, which every text {name}s; drop it")
    return [normalize(item) for item in items]


def _ids(tokenizer: CharTokenizer, text: str) -> list[int] | None:
    """The ids of ``text``, or None when it holds a character outside the vocabulary."""
    index = tokenizer._index
    ids = [index.get(ch) for ch in text]
    return None if None in ids else ids


def _pattern_fsm(pattern: str) -> object:
    import interegular

    try:
        return interegular.parse_pattern(pattern).to_fsm()
    except Exception as err:  # interegular's own error types for unsupported syntax
        raise ValueError(
            f"pattern={pattern!r} cannot be compiled to an automaton ({err}); use plain regular "
            "expression syntax: no backreferences or lookarounds"
        ) from None


def _pattern_automaton(fsm: object, tokenizer: CharTokenizer) -> Automaton:
    import numpy as np

    states = sorted(fsm.states)
    number = {s: k for k, s in enumerate(states)}
    vocab = tokenizer.vocab_size
    symbols = [fsm.alphabet[ch] for ch in tokenizer.chars]  # anything_else for the others
    table = np.full((len(states), vocab), -1, dtype=np.int64)
    for s in states:
        moves = fsm.map.get(s, {})
        for col, symbol in enumerate(symbols, start=1):
            target = moves.get(symbol)
            if target is not None:
                table[number[s], col] = number[target]
    accept = np.array([s in fsm.finals for s in states], dtype=bool)
    return Automaton(table, accept, number[fsm.initial])


def _parts(
    spec: Constraints, tokenizer: CharTokenizer, total_max: int
) -> list[tuple[str, Automaton]]:
    """One (description, automaton) per constraint; a ValueError for a character outside the
    vocabulary where the constraint requires it."""
    vocab = tokenizer.vocab_size
    low, high = spec.length if spec.length is not None else (0, None)
    high = total_max if high is None else min(high, total_max)
    where = "the model's vocabulary"
    parts = [("length", length_range(vocab, low, max(high, 0)))]
    if spec.length is not None and low > total_max:
        raise ValueError(
            f"length={spec.length!r} needs at least {low} characters but max_length allows at "
            f"most {total_max} (prefix included); raise max_length"
        )
    if spec.pattern is not None:
        parts.append((f"pattern={spec.pattern!r}", _pattern_automaton(spec.fsm, tokenizer)))
    for name, build in (("starts_with", starts_with), ("ends_with", ends_with)):
        text = getattr(spec, name)
        if text:
            ids = _ids(tokenizer, text)
            if ids is None:
                raise ValueError(f"{name}={text!r} holds characters outside {where}")
            parts.append((f"{name}={text!r}", build(vocab, ids)))
    for text in spec.contains:
        ids = _ids(tokenizer, text)
        if ids is None:
            raise ValueError(f"contains={text!r} holds characters outside {where}")
        parts.append((f"contains={text!r}", contains(vocab, ids)))
    for text in spec.not_contains:
        ids = _ids(tokenizer, text)
        if ids is not None:  # a substring the model cannot write is excluded already
            parts.append((f"not_contains={text!r}", not_contains(vocab, ids)))
    if spec.chars is not None:
        ids = [tokenizer._index[ch] for ch in set(spec.chars) if ch in tokenizer._index]
        parts.append((f"chars={spec.chars!r}", allowed_chars(vocab, ids)))
    if spec.exclude:
        encoded = [_ids(tokenizer, t) for t in spec.exclude]
        trie = excluded_texts(vocab, [ids for ids in encoded if ids is not None])
        parts.append(("exclude", trie))
    return parts


def compile_constraints(
    spec: Constraints, tokenizer: CharTokenizer, prefix: str, max_length: int
) -> Automaton:
    """One trimmed automaton for ``spec``, the vocabulary and the length bound, started after
    ``prefix`` (so its states are those of the continuation).

    Raises
    ------
    ValueError
        When no text satisfies the constraints, naming the constraint (or the prefix) at fault.
    """
    prefix = normalize(prefix)
    prefix_ids = _ids(tokenizer, prefix)
    if prefix_ids is None:
        raise ValueError(
            f"prefix={prefix!r} holds characters outside the model's vocabulary, so no "
            "constrained text can start with it; use only characters from the training texts"
        )
    total_max = len(prefix_ids) + max_length
    parts = _parts(spec, tokenizer, total_max)
    whole = intersect([automaton for _, automaton in parts]).trim()
    if whole.is_empty:
        limits = f"at most {total_max} characters, prefix included: max_length"
        if spec.length is not None:
            limits += f" and length={spec.length!r}"
        for name, automaton in parts[1:]:
            if intersect([parts[0][1], automaton]).trim().is_empty:
                raise ValueError(
                    f"no text satisfies {name} within the length limits ({limits}) and the "
                    "model's vocabulary; relax it"
                )
        raise ValueError(
            f"no text satisfies all the constraints together ({spec.describe()}, at most "
            f"{total_max} characters); relax one of them"
        )
    state = whole.walk(prefix_ids)
    if state < 0:
        raise ValueError(
            f"prefix={prefix!r} cannot begin any text satisfying the constraints "
            f"({spec.describe()}); the constraints apply to the whole text, prefix included"
        )
    whole.start = state
    return whole.trim()
