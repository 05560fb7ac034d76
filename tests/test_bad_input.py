"""Awkward but valid input works exactly like plain ASCII; invalid input says what is wrong."""

import math

import numpy as np
import pytest

from charzoo import create_model, list_models
from charzoo.testing import make_tiny

WEIRD = [
    "",  # empty text mixed in: predicts only the end marker
    "e\u0301te\u0301",  # combining marks (NFC-normalised to "été")
    "👩‍🔬🙂",  # emoji, zero-width joiner
    "שָׁלוֹם",  # right-to-left with points
    "a\x00b",  # NUL is an ordinary character here (the boundary is an id, not a char)
    "床前明月光，疑是地上霜。",  # Chinese poetry
    "x" * 3000,  # a very long line
]
FAMILIES = [
    m
    for m in ("bigram", "ngram", "mlp", "wavenet", "gru", "transformer", "bow")
    if m in list_models()
]


@pytest.fixture(scope="module", params=FAMILIES)
def weird_model(request):
    return make_tiny(create_model(request.param)).fit(WEIRD)


def test_weird_unicode_fits_scores_and_generates(weird_model):
    assert weird_model.mode_ == "document"
    log_likelihood = weird_model.score_samples(WEIRD)
    assert np.isfinite(log_likelihood).all()
    assert log_likelihood[0] < 0  # the empty text still predicts its end marker
    assert math.isfinite(weird_model.score(["été", "🙂a\x00"]))
    for text in weird_model.generate(5, prefix="床", max_length=20):
        assert text.startswith("床") and len(text) <= 21
        assert set(text) <= set(weird_model.tokenizer_.chars)


def test_nfc_and_nfd_score_identically(weird_model):
    assert weird_model.score(["e\u0301te\u0301"]) == weird_model.score(["été"])


def test_containers_match_list(weird_model):
    texts = ["été", "🙂", "a\x00b"]
    expected = weird_model.score(texts)
    assert weird_model.score(tuple(texts)) == expected
    assert weird_model.score(t for t in texts) == expected
    assert weird_model.score(np.array(texts, dtype=object)) == expected
    assert weird_model.score(np.array(texts)) == expected


@pytest.mark.parametrize(
    ("texts", "error", "match"),
    [
        (["ok", None], TypeError, r"texts\[1\] is NoneType"),
        (["ok", b"bytes"], TypeError, r"texts\[1\] is bytes.*decode"),
        ([1.5], TypeError, r"texts\[0\] is float"),
        ("just one string", TypeError, "single str"),
        ([], ValueError, "empty"),
    ],
)
def test_invalid_texts_name_the_problem(weird_model, texts, error, match):
    with pytest.raises(error, match=match):
        weird_model.score(texts)


def test_generate_edge_cases(weird_model):
    assert weird_model.generate(0) == []
    vocab = weird_model.tokenizer_.vocab_size
    assert len(weird_model.generate(3, top_k=vocab + 10)) == 3  # top_k beyond vocab: no-op
    assert len(weird_model.generate(3000, max_length=3)) == 3000  # many rows, capped length
    with pytest.raises(ValueError, match="temperature"):
        weird_model.generate(2, temperature=-0.5)
    with pytest.raises(ValueError, match="top_p"):
        weird_model.generate(2, top_p=1.01)
    with pytest.raises(ValueError, match=r"'Q'"):
        weird_model.generate(2, prefix="Q")
    with pytest.raises(TypeError, match="prefix"):
        weird_model.generate(2, prefix=5)
