"""Constraint automata against brute force: every text over a small alphabet up to a length."""

from __future__ import annotations

import itertools
import re

import pytest

from charzoo.constraints import Constraints, compile_constraints, parse_length
from charzoo.tokenizer import CharTokenizer

ALPHABET = "abc"
TOKENIZER = CharTokenizer().fit([ALPHABET])
MAX = 5
ALL = ["".join(p) for k in range(MAX + 1) for p in itertools.product(ALPHABET, repeat=k)]


def accepted(spec: Constraints, prefix: str = "") -> set[str]:
    """The texts the compiled automaton accepts (walked from its start after the prefix)."""
    automaton = compile_constraints(spec, TOKENIZER, prefix, MAX - len(prefix))
    out = set()
    for text in ALL:
        if not text.startswith(prefix):
            continue
        state = automaton.walk(TOKENIZER.encode(text[len(prefix) :]).tolist())
        if state >= 0 and automaton.accept[state]:
            out.add(text)
    return out


CASES = [
    (dict(pattern="a(b|c)*a?"), lambda t: re.fullmatch("a(b|c)*a?", t)),
    (dict(pattern="[^a]+"), lambda t: re.fullmatch("[^a]+", t)),
    (dict(length="2-3"), lambda t: 2 <= len(t) <= 3),
    (dict(length=(4, None)), lambda t: len(t) >= 4),
    (dict(starts_with="ab"), lambda t: t.startswith("ab")),
    (dict(ends_with="aab"), lambda t: t.endswith("aab")),
    (dict(contains=["aba", "c"]), lambda t: "aba" in t and "c" in t),
    (dict(not_contains=["aa", "bcb"]), lambda t: "aa" not in t and "bcb" not in t),
    (dict(chars="ab"), lambda t: set(t) <= set("ab")),
    (dict(exclude=["", "ab", "abc", "ccccc"]), lambda t: t not in ("", "ab", "abc", "ccccc")),
    (
        dict(pattern="(ab|ba)+c?", ends_with="c", not_contains="bab", length="3-"),
        lambda t: re.fullmatch("(ab|ba)+c?", t) and t.endswith("c") and "bab" not in t,
    ),
]


@pytest.mark.parametrize("kwargs, rule", CASES)
def test_automaton_accepts_exactly_the_constrained_texts(kwargs, rule):
    spec = Constraints.from_args(**kwargs)
    assert accepted(spec) == {t for t in ALL if rule(t)}
    # the prefix is part of the text the constraints see
    expected = {t for t in ALL if t.startswith("a") and rule(t)}
    if expected:
        assert accepted(spec, "a") == expected
    else:
        with pytest.raises(ValueError, match="prefix='a' cannot begin any text"):
            accepted(spec, "a")


def test_trim_keeps_only_completable_states():
    automaton = compile_constraints(
        Constraints.from_args(pattern="a*b", length=3), TOKENIZER, "", 10
    )
    # every state reachable from the start can still reach acceptance
    for state in range(automaton.n_states):
        assert automaton.accept[state] or (automaton.table[state] >= 0).any()
    texts = {"aab"}
    counts = automaton.prefix_counts(10)
    assert counts == (4.0, float(len(texts)))  # "", "a", "aa", "aab"


def test_unsatisfiable_constraints_name_the_culprit():
    with pytest.raises(ValueError, match=r"no text satisfies starts_with='ab' within"):
        compile_constraints(Constraints.from_args(starts_with="ab", length=1), TOKENIZER, "", 9)
    with pytest.raises(ValueError, match="no text satisfies all the constraints together"):
        compile_constraints(
            Constraints.from_args(starts_with="a", ends_with="b", pattern="[ab]c*"),
            TOKENIZER,
            "",
            9,
        )
    with pytest.raises(ValueError, match=r"prefix='c' cannot begin"):
        compile_constraints(Constraints.from_args(starts_with="a"), TOKENIZER, "c", 9)
    with pytest.raises(ValueError, match=r"contains='z' holds characters outside"):
        compile_constraints(Constraints.from_args(contains="z"), TOKENIZER, "", 9)
    with pytest.raises(ValueError, match="needs at least 12 characters but max_length"):
        compile_constraints(Constraints.from_args(length=12), TOKENIZER, "", 9)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(pattern="a("), ValueError, r"pattern='a\(' is not a valid regular expression"),
        (dict(pattern=r"(a)\1"), ValueError, "no backreferences or lookarounds"),
        (dict(pattern=3), TypeError, "pattern must be a str"),
        (dict(length="six"), ValueError, "length='six' is not a length or range"),
        (dict(length=(5, 2)), ValueError, "the maximum is below the minimum"),
        (dict(length=-1), ValueError, "the minimum must be an integer >= 0"),
        (dict(contains=[""]), ValueError, r"contains\[0\] is the empty string"),
        (dict(exclude=["a", 3]), TypeError, r"exclude\[1\] must be a str"),
        (dict(starts_with=["a"]), TypeError, "starts_with must be a str"),
        (dict(chars=""), ValueError, "chars='' allows no character"),
    ],
)
def test_bad_constraint_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        Constraints.from_args(**kwargs)


def test_parse_length_forms():
    assert parse_length("6-8") == (6, 8)
    assert parse_length(" 6 - ") == (6, None)
    assert parse_length(7) == (7, 7)
    assert parse_length((2, None)) == (2, None)


def test_nfc_constraints_match_nfc_texts():
    tokenizer = CharTokenizer().fit(["café", "cafe"])  # é is stored composed (NFC)
    decomposed = "cafe\u0301"
    automaton = compile_constraints(Constraints.from_args(ends_with=decomposed), tokenizer, "", 6)
    state = automaton.walk(tokenizer.encode("café").tolist())
    assert state >= 0 and automaton.accept[state]
