"""Awkward but valid input works exactly like plain ASCII; invalid input says what is wrong."""

import math

import numpy as np
import pytest
import torch

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


# ------------------------------------------------------------------------------ hardening
def test_one_column_dataframe_works_like_its_column():
    pd = pytest.importorskip("pandas")
    from charzoo import CharNGram

    names = ["emma", "olivia", "ava", "mia"]
    from_list = CharNGram(order=2).fit(names)
    from_frame = CharNGram(order=2).fit(pd.DataFrame({"name": names}))
    assert from_frame.tokenizer_.chars == from_list.tokenizer_.chars  # not the column label
    assert from_frame.mode_ == "document"
    assert from_frame.score(pd.DataFrame({"x": names})) == from_list.score(names)
    with pytest.raises(ValueError, match=r"2-d table.*\(name, other\).*df\['name'\]"):
        CharNGram().fit(pd.DataFrame({"name": names, "other": names}))
    with pytest.raises(ValueError, match="one column"):
        from_list.score(np.array([names, names]).T)


def test_lone_surrogates_are_named():
    from charzoo import CharBigram

    model = CharBigram().fit(["emma", "ava"])
    with pytest.raises(ValueError, match=r"texts\[1\] holds a lone surrogate '\\ud800'"):
        CharBigram().fit(["emma", "a\ud800b"])
    with pytest.raises(ValueError, match="surrogate"):
        model.score(["em\udc00"])
    with pytest.raises(ValueError, match="prefix holds a lone surrogate"):
        model.generate(1, prefix="e\ud800")


@pytest.mark.parametrize("param", ["n_embd", "max_steps", "learning_rate", "random_state"])
def test_bool_is_not_a_number(param):
    from charzoo import CharMLP

    with pytest.raises(TypeError, match=f"'{param}' parameter of CharMLP must be a number"):
        CharMLP(**{param: True}).fit(["emma", "ava"])
    CharMLP(warm_start=True, max_steps=2, verbose=False).fit(["emma", "ava"])  # bools stay ok


@pytest.mark.parametrize("device", ["mps", "meta", "cuda:7", "bogus", "cpu:3"])
def test_unavailable_device_is_refused_at_fit(device):
    from charzoo import CharMLP

    with pytest.raises(ValueError, match=f"device={device!r}.*'cpu'"):
        CharMLP(device=device, max_steps=2).fit(["emma", "ava"])


def test_extreme_temperatures_sample_valid_texts():
    from charzoo import CharNGram

    model = CharNGram(order=3).fit(["emma", "olivia", "ava", "isabella"] * 5)
    greedy = model.generate(3, temperature=0, max_length=12)
    for t in (1e-40, 5e-324, 1e-300):  # as good as greedy (no ties here)
        assert model.generate(3, temperature=t, max_length=12, random_state=1) == greedy
    hot = model.generate(50, temperature=1e300, max_length=12, random_state=0)
    assert all(set(s) <= set(model.tokenizer_.chars) for s in hot)
    stream = CharNGram(order=3).fit(["the cat sat on the mat. " * 20])
    for t in (1e300, 1e-40):
        assert all(len(s) == 15 for s in stream.generate(2, temperature=t, max_length=15))


def test_generate_buffer_grows_with_the_rows(monkeypatch):
    from charzoo import CharNGram, sampler

    model = CharNGram(order=3).fit(["emma", "olivia", "ava"] * 5)
    allocated = []
    real_full = torch.full

    def spy(size, *args, **kwargs):
        allocated.append(math.prod(size))
        return real_full(size, *args, **kwargs)

    monkeypatch.setattr(sampler.torch, "full", spy)
    assert len(model.generate(4, max_length=10**9)) == 4  # would be 32 GB preallocated
    assert max(allocated) <= 4 * 128


@pytest.mark.parametrize("seed", [2**64, -1, 2**32, 1.5])
def test_generate_random_state_out_of_range(seed):
    from charzoo import CharBigram

    model = CharBigram().fit(["emma", "ava"])
    with pytest.raises(ValueError, match="random_state"):
        model.generate(2, random_state=seed)


def test_callbacks_and_tiny_data():
    from charzoo import CharMLP, CharTransformer

    with pytest.raises(TypeError, match=r"callbacks\[1\] is 1 \(int\)"):
        CharMLP(callbacks=[print, 1]).fit(["emma", "ava"])
    model = CharMLP(validation_fraction=0.99, max_steps=5, random_state=0).fit(["ab", "cd"])
    assert math.isfinite(model.score(["ab"]))
    model = CharTransformer(max_steps=5, random_state=0).fit(["a"])
    assert model.generate(1, max_length=3) == ["aaa"]


def test_divergence_restores_usable_weights_and_says_which():
    from charzoo import CharMLP
    from charzoo.training import TrainingDivergedWarning

    with pytest.warns(TrainingDivergedWarning, match="restored the (initial|best|last sane)"):
        model = CharMLP(learning_rate=1e6, max_steps=20, grad_clip=None, random_state=0)
        model.fit(["emma", "olivia", "ava", "mia", "sophia"] * 4)
    assert model.stop_reason_ == "diverged"
    assert 1 <= model.score(["emma", "ava"]) < 40  # finite: not the 1e6-scale weights


def test_default_eval_interval_rule():
    from charzoo.training import default_eval_interval

    assert default_eval_interval(10) == 10  # short fits: only the last step
    assert default_eval_interval(20) == 20
    assert default_eval_interval(200) == 50
    assert default_eval_interval(5000) == 250
    assert default_eval_interval(10**6) == 500


def test_neural_bigram_is_bit_reproducible_with_two_threads():
    from charzoo import CharNeuralBigram
    from charzoo.datasets import load_names

    names = load_names()[:3000]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = [
            CharNeuralBigram(max_steps=40, random_state=0).fit(names).score_samples(names[:300])
            for _ in range(2)
        ]
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(runs[0], runs[1])
