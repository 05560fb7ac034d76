"""CharLM.next_char_proba: exact values for a count model, the mode semantics, bad input, and
the ``charzoo next`` command."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from charzoo import CharBigram, CharMLP, load
from charzoo.cli import main
from charzoo.datasets import load_names, load_shakespeare
from charzoo.proba import END, stream_sampling_proba

NAMES = load_names()[:500]


@pytest.fixture(scope="module")
def bigram():
    return CharBigram(alpha=0.5).fit(NAMES)


def test_bigram_rows_are_the_smoothed_counts(bigram):
    chars = bigram.tokenizer_.chars
    vocab = len(chars) + 1
    proba = bigram.next_char_proba(["", "emm", "x"])
    assert proba.shape == (3, vocab) and proba.dtype == np.float64
    assert bigram.next_char_labels_ == [END, *chars] and END == ""
    for row, last in zip(proba, ["", "m", "x"]):  # a bigram sees the last character only
        pairs = [
            (t[i - 1 : i] if i else "", (t + "\0")[i]) for t in NAMES for i in range(len(t) + 1)
        ]
        after = [b for a, b in pairs if a == last]
        expected = [(after.count(c) + 0.5) / (len(after) + 0.5 * vocab) for c in ["\0", *chars]]
        np.testing.assert_allclose(row, expected, rtol=1e-5)
    assert proba[0, 0] < 0.01  # names do not end before their first character


def test_rows_chain_to_score_samples(bigram):
    text = "emma"
    proba = bigram.next_char_proba([text[:i] for i in range(len(text) + 1)])
    column = {c: j for j, c in enumerate(bigram.next_char_labels_)}
    chain = sum(math.log(proba[i, column[c]]) for i, c in enumerate([*text, END]))
    assert bigram.score_samples([text])[0] == pytest.approx(chain, abs=1e-4)


def test_stream_mode_rows_and_sampling_distribution():
    model = CharMLP(max_steps=30, n_hidden=32, random_state=0, verbose=False)
    model.fit([load_shakespeare()[:3000]])
    proba = model.next_char_proba(["ROMEO:", ""])
    assert model.mode_ == "stream" and np.allclose(proba.sum(axis=1), 1)
    sampled = stream_sampling_proba(proba)
    assert np.all(sampled[:, 0] == 0) and np.allclose(sampled.sum(axis=1), 1)
    np.testing.assert_allclose(sampled[:, 1:], proba[:, 1:] / (1 - proba[:, :1]), rtol=1e-9)


def test_bad_input_and_unfitted(bigram):
    with pytest.raises(NotFittedError):
        CharBigram().next_char_proba(["a"])
    with pytest.raises(TypeError, match="single str"):
        bigram.next_char_proba("emm")
    with pytest.raises(ValueError, match="'#'"):
        bigram.next_char_proba(["em#"])
    ignoring = CharBigram(handle_unknown="ignore").fit(NAMES)
    np.testing.assert_array_equal(
        ignoring.next_char_proba(["em#"]), ignoring.next_char_proba(["em"])
    )


def test_survives_save_load(bigram, tmp_path):
    bigram.save(tmp_path / "b.cz")
    loaded = load(tmp_path / "b.cz")
    np.testing.assert_array_equal(loaded.next_char_proba(["an"]), bigram.next_char_proba(["an"]))
    assert loaded.next_char_labels_ == bigram.next_char_labels_


def test_cli_next_prints_the_most_likely_characters(bigram, tmp_path, capsys):
    path = str(tmp_path / "b.cz")
    bigram.save(path)
    assert main(["next", path, "emm", "", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "after 'emm':" and lines[4] == "after '':" and len(lines) == 8
    proba = bigram.next_char_proba(["emm"])[0]
    best = np.argsort(-proba)[:3]
    labels = [bigram.next_char_labels_[j] or "<end>" for j in best]
    assert [line.split() for line in lines[1:4]] == [
        [label, f"{proba[j]:.4f}"] for label, j in zip(labels, best)
    ]
    assert main(["next", path, "em", "--top", "0"]) == 1
    assert "--top must be at least 1" in capsys.readouterr().err
    assert main(["next", path, "em#"]) == 1
    assert "'#'" in capsys.readouterr().err
