"""Property-based checks (hypothesis) on fitted models and the tokenizer."""

import math
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charzoo import CharBigram, CharMLP, CharTokenizer
from charzoo.data import check_texts
from tests.conftest import TINY

TRAIN = ["emma", "olivia", "ava", "isabella", "sophia", "zoé", "李白", "🙂ok"]
ALPHABET = sorted(set("".join(TRAIN)))
texts_over_alphabet = st.lists(st.text(alphabet=ALPHABET, max_size=30), min_size=1, max_size=8)
fast = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", params=["bigram", "mlp"])
def fitted(request):
    if request.param == "bigram":
        return CharBigram().fit(TRAIN)
    return CharMLP(block_size=3, **TINY).fit(TRAIN)


@fast
@given(texts=texts_over_alphabet)
def test_score_finite_and_consistent_with_score_samples(fitted, texts):
    perplexity = fitted.score(texts)
    assert math.isfinite(perplexity) and perplexity >= 1
    log_likelihood = fitted.score_samples(texts)
    assert log_likelihood.shape == (len(texts),) and (log_likelihood <= 0).all()
    n_predictions = sum(len(t) + 1 for t in texts)  # document mode: characters + end marker
    assert perplexity == pytest.approx(math.exp(-log_likelihood.sum() / n_predictions), rel=1e-9)


@fast
@given(text=st.text(max_size=50))
def test_encode_decode_roundtrip_any_unicode(text):
    tokenizer = CharTokenizer().fit([text, "a"])
    assert tokenizer.decode(tokenizer.encode(text)) == unicodedata.normalize("NFC", text)


@fast
@given(
    items=st.lists(
        st.one_of(st.text(max_size=5), st.none(), st.integers(), st.binary(max_size=3)),
        max_size=5,
    )
)
def test_check_texts_works_or_says_what_is_wrong(items):
    try:
        result = check_texts(items)
    except TypeError as exc:
        bad = next(i for i, item in enumerate(items) if not isinstance(item, str))
        assert f"texts[{bad}]" in str(exc)
    except ValueError as exc:
        assert items == [] and "empty" in str(exc)
    else:
        assert result == items
