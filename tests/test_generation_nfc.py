"""NFC everywhere in generation (issue 26, point 6)."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import pytest

from charzoo import CharBigram, CharMLP
from charzoo.nfc import forbidden_pairs

# a vocabulary holding base letters and a combining acute separately ("q" has no precomposed
# form with it, "a" and "A" do)
TRAIN = ["q\u0301a", "aq", "qq\u0301", "a", "Aq\u0301", "q\u0301\u0301", "aa"]


@pytest.mark.parametrize(
    "model",
    [CharBigram(), CharMLP(max_steps=30, batch_size=8, random_state=0, n_threads=1)],
    ids=["bigram", "mlp"],
)
def test_generated_texts_are_nfc_in_the_vocabulary_and_score(model):
    model.fit(TRAIN)
    assert "\u0301" in model.tokenizer_.chars and "a" in model.tokenizer_.chars
    samples = model.generate(300, temperature=2.0, random_state=1)
    samples += model.generate(50, prefix="a", temperature=2.0, random_state=2)
    assert sum("\u0301" in s for s in samples) > 20  # the mark is still sampled after q
    vocabulary = set(model.tokenizer_.chars)
    for text in samples:
        assert unicodedata.is_normalized("NFC", text), repr(text)
        assert set(text) <= vocabulary, repr(text)
    assert len(model.score_samples(samples)) == len(samples)


def test_a_decomposed_prefix_comes_back_composed():
    model = CharBigram(handle_unknown="ignore").fit(["àb", "ab", "bà"])
    for text in model.generate(20, prefix="a\u0300", random_state=0):
        assert text.startswith("à") and unicodedata.is_normalized("NFC", text)
    assert set("".join(model.generate(50, random_state=0))) <= set(model.tokenizer_.chars)


def test_forbidden_pairs_only_for_combining_vocabularies():
    assert forbidden_pairs(list("abc")) is None
    assert forbidden_pairs(["é", "李"]) is None  # no combining character
    pairs = forbidden_pairs(["a", "q", "\u0301", "\u0323"])  # ids 1..4
    assert bool(pairs[1, 3]) and not bool(pairs[2, 3])
    assert bool(pairs[3, 4])  # dot below (ccc 220) after acute (230): NFC reorders them
    assert not pairs[0].any()  # after the start of a text anything goes


def test_cli_score_counts_predictions_on_the_nfc_length(tmp_path):
    model = CharBigram().fit(["àb", "ab"])
    model.save(tmp_path / "m.cz")
    data = tmp_path / "d.txt"
    data.write_text("a\u0300b\nab\n", encoding="utf-8")  # NFC lengths 2 and 2
    result = subprocess.run(
        [sys.executable, "-m", "charzoo", "score", str(tmp_path / "m.cz"), str(data)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "predictions     6" in result.stdout  # (2 + 1) + (2 + 1), not 7
