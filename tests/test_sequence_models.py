"""Sequence models: RNN, GRU, LSTM, Transformer, bag of words on real data."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from sklearn.base import clone

from charzoo import create_model, load
from charzoo.models.bow import CharBoW
from charzoo.models.rnn import CharGRU, CharLSTM, CharRNN
from charzoo.models.transformer import CharTransformer
from charzoo.sampler import sample
from charzoo.sequence import FullContextDecoder, SequenceDecoder, sequence_nll
from tests.conftest import TINY

SMALL = {
    CharRNN: {"n_embd": 8, "n_hidden": 24, "n_layers": 2},
    CharGRU: {"n_embd": 8, "n_hidden": 24, "n_layers": 1},
    CharLSTM: {"n_embd": 8, "n_hidden": 24, "n_layers": 2},
    CharTransformer: {"n_layers": 2, "n_heads": 2, "n_embd": 16, "block_size": 16},
    CharBoW: {"n_embd": 16, "n_hidden": 32},
}
MODELS = list(SMALL)
FAST = {**TINY, "max_steps": 30}


def _stream_params(cls):
    length = {"block_size": 16} if cls is CharTransformer else {"seq_length": 16}
    return {**SMALL[cls], **FAST, **length, "batch_size": 8}


@pytest.fixture(scope="module", params=MODELS, ids=lambda c: c.__name__)
def fitted(request, small_names):
    cls = request.param
    return cls(**SMALL[cls], **FAST).fit(small_names[0])


def test_registered():
    for name, cls in [
        ("rnn", CharRNN),
        ("gru", CharGRU),
        ("lstm", CharLSTM),
        ("transformer", CharTransformer),
        ("bow", CharBoW),
    ]:
        assert type(create_model(name)) is cls


def test_fit_generate_score(fitted, small_names):
    _, test = small_names
    assert fitted.mode_ == "document" and fitted.n_steps_ == FAST["max_steps"]
    assert fitted.history_["train_loss"][-1] < math.log(fitted.tokenizer_.vocab_size)
    ppl = fitted.score(test)
    assert 1 < ppl < fitted.tokenizer_.vocab_size
    samples = fitted.generate(6, prefix="an", temperature=0.8)
    assert len(samples) == 6 and all(s.startswith("an") for s in samples)
    assert all(set(s) <= set(fitted.tokenizer_.chars) for s in samples)


def test_padded_batch_equals_one_by_one(fitted, small_names):
    texts = small_names[1][:40] + ["a", "christopherjohn"]
    batched = fitted.score(texts)
    per_text = [fitted.score_samples([t])[0] for t in texts]
    one_by_one = math.exp(-sum(per_text) / sum(len(t) + 1 for t in texts))
    assert batched == pytest.approx(one_by_one, rel=1e-5)
    assert fitted.score_samples(texts) == pytest.approx(per_text, rel=1e-5, abs=1e-5)


def test_save_load_clone_pickle(fitted, small_names, tmp_path):
    _, test = small_names
    path = tmp_path / "m.cz"
    fitted.save(path)
    loaded = load(path)
    assert type(loaded) is type(fitted)
    assert loaded.score(test) == pytest.approx(fitted.score(test), rel=1e-6)
    assert loaded.generate(5) == fitted.generate(5)
    copy = pickle.loads(pickle.dumps(fitted))
    assert copy.generate(5, random_state=3) == fitted.generate(5, random_state=3)
    fresh = clone(fitted)
    assert fresh.get_params() == fitted.get_params() and not hasattr(fresh, "module_")


def test_reproducible_with_random_state(small_names):
    train, test = small_names
    params = {**SMALL[CharGRU], **FAST}
    a, b = CharGRU(**params).fit(train), CharGRU(**params).fit(train)
    assert a.score(test) == b.score(test) and a.generate(8) == b.generate(8)
    c = CharGRU(**{**params, "random_state": 1}).fit(train)
    assert c.score(test) != a.score(test)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sampling", ["random", "adjacent"])
def test_stream_mode(cls, sampling, shakespeare_text):
    model = cls(**_stream_params(cls), stream_sampling=sampling).fit([shakespeare_text])
    assert model.mode_ == "stream"
    held_out = shakespeare_text[-3000:]
    ppl = model.score([held_out])
    assert 1 < ppl < model.tokenizer_.vocab_size
    # the whole text is scored with the state carried / windows: one NLL per character
    assert len(model._token_nll(model._encode([held_out]))) == len(held_out)
    out = model.generate(2, prefix="ROMEO:", max_length=40)
    assert all(s.startswith("ROMEO:") and len(s) == 46 for s in out)


def test_adjacent_windows_carry_state(shakespeare_text):
    model = CharLSTM(**_stream_params(CharLSTM), stream_sampling="adjacent").fit([shakespeare_text])
    corpus = model._encode([shakespeare_text])
    task = model._training_task(corpus, None, torch.Generator().manual_seed(0))
    first_x, _ = task._adjacent_windows()
    task.train_loss(model.module_)
    second_x, _ = task._adjacent_windows()
    first_x, second_x = first_x.cpu(), second_x.cpu()
    inputs = torch.roll(corpus.targets.long(), 1)
    inputs[0] = 0  # the boundary id before the stream
    width = task.rows[1]
    rows = inputs[: width * len(task.rows[0])].view(-1, width)
    # each row continues where it stopped and the detached state is kept
    assert torch.equal(first_x, rows[:, :16]) and torch.equal(second_x, rows[:, 32:48])
    h, c = task.state
    assert h.shape == (2, 8, 24) and not h.requires_grad


def test_stream_score_carries_state_over_the_whole_text(shakespeare_text):
    model = CharGRU(**_stream_params(CharGRU)).fit([shakespeare_text])
    corpus = model._encode([shakespeare_text[:2500]])
    ids = torch.cat([torch.zeros(1, dtype=torch.long), corpus.targets[:-1]])
    with torch.no_grad():
        logits, _ = model.module_(ids[None].to(model.device_))
    expected = torch.nn.functional.cross_entropy(
        logits[0].cpu(), corpus.targets.long(), reduction="none"
    )
    from charzoo.sequence import scoring as seq  # where the chunk size is read

    old, seq._STATE_CHUNK_STEPS = seq._STATE_CHUNK_STEPS, 100  # many chunks carrying state
    try:
        got = sequence_nll(model.module_, corpus)
    finally:
        seq._STATE_CHUNK_STEPS = old
    assert torch.allclose(got, expected, atol=1e-4)


def test_transformer_windows_on_long_text(shakespeare_text):
    model = CharTransformer(**_stream_params(CharTransformer)).fit([shakespeare_text])
    corpus = model._encode([shakespeare_text[:100]])
    got = sequence_nll(model.module_, corpus)
    ids = torch.cat([torch.zeros(1, dtype=torch.long), corpus.targets[:-1]])
    with torch.no_grad():
        first, _ = model.module_(ids[None, :16].to(model.device_))
        later, _ = model.module_(ids[None, 8:24].to(model.device_))  # stride block // 2
    first, later = first.cpu(), later.cpu()
    ce = torch.nn.functional.cross_entropy
    assert torch.allclose(got[:16], ce(first[0], corpus.targets[:16], reduction="none"), atol=1e-5)
    assert torch.allclose(
        got[16:24], ce(later[0, 8:], corpus.targets[16:24], reduction="none"), atol=1e-5
    )


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_incremental_decoder_matches_full_recompute(cls, shakespeare_text):
    model = cls(**_stream_params(cls)).fit([shakespeare_text])
    prefix = torch.from_numpy(model.tokenizer_.encode("To be"))
    fast, slow = SequenceDecoder(model.module_), FullContextDecoder(model.module_)
    with torch.no_grad():
        a, b = fast.start(prefix, 3), slow.start(prefix, 3)
        assert torch.allclose(a, b, atol=1e-5)
        for step in range(9):  # stays inside the Transformer's block (6 + 9 < 16)
            tokens = torch.tensor([1 + step, 2 + step, 3], device=model.device_)
            assert torch.allclose(fast.advance(tokens), slow.advance(tokens), atol=1e-5)


def test_kv_cache_decoder_beyond_block_size(shakespeare_text):
    model = CharTransformer(**_stream_params(CharTransformer)).fit([shakespeare_text])
    gen = torch.Generator().manual_seed(0)
    rows = sample(
        SequenceDecoder(model.module_),
        torch.tensor([5, 6]),
        4,
        50,
        stop_at_boundary=False,
        generator=gen,
    )
    assert all(len(r) == 50 for r in rows)  # re-primes when the cache fills the block


def test_gradient_clipping_on_by_default_for_rnns():
    assert CharRNN().grad_clip and CharGRU().grad_clip and CharLSTM().grad_clip


def test_invalid_params():
    with pytest.raises(ValueError, match="divisible"):
        CharTransformer(n_embd=10, n_heads=4, **FAST).fit(["ab", "cd"])
    with pytest.raises(ValueError, match="stream_sampling"):
        CharGRU(stream_sampling="nope").fit(["ab", "cd"])
    with pytest.raises(ValueError, match="preset"):
        CharLSTM.from_preset("nope")
    assert CharLSTM.from_preset("shakespeare", max_steps=5).max_steps == 5
