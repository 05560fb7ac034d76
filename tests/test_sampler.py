"""The sampling core: logit filters, temperature, the batched sampler and the incremental
decoders (row selection, KV-cache re-priming)."""

from __future__ import annotations

import math

import pytest
import torch

import charzoo
from charzoo.datasets import load_names
from charzoo.sampler import filter_logits, sample, scale_logits
from charzoo.sequence import FullContextDecoder, SequenceDecoder
from charzoo.tokenizer import BOUNDARY_ID


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------ filters
def test_top_k_keeps_exactly_k_even_with_ties():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0]])
    kept = torch.isfinite(filter_logits(logits, top_k=2))
    assert kept.sum() == 2 and not kept[0, 0] and not kept[0, 4]


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    logits = probs.log()
    keep = lambda p: torch.isfinite(filter_logits(logits, top_p=p))[0].tolist()  # noqa: E731
    # ranked 0.5, 0.3, 0.15, 0.05: the tokens above 0.15 already hold 0.8 of the mass
    assert keep(0.8) == [False, True, False, True]
    assert keep(0.81) == [False, True, True, True]
    assert keep(0.4) == [False, True, False, False]  # the top token always stays
    assert keep(1.0) == [True, True, True, True]


def test_top_k_and_top_p_combine():
    logits = torch.tensor([[0.05, 0.5, 0.15, 0.3]]).log()
    kept = torch.isfinite(filter_logits(logits, top_k=3, top_p=0.99))[0].tolist()
    assert kept == [False, True, True, True]


@pytest.mark.parametrize("temperature", [1e-300, 1e-5, 0.5, 1.0, 7.0, 1e5, 1e300])
def test_scale_logits_never_overflows(temperature):
    logits = torch.tensor([[2.0, -1.0, 30.0, float("-inf")]])
    probs = torch.softmax(scale_logits(logits, temperature).double(), dim=-1)
    assert torch.isfinite(probs).all() and math.isclose(float(probs.sum()), 1.0, rel_tol=1e-6)
    assert probs[0, 3] == 0  # a forbidden token stays forbidden
    if temperature <= 1e-5:
        assert probs[0, 2] > 0.999  # ~greedy
    if temperature >= 1e5:
        third = torch.full((3,), 1 / 3, dtype=torch.float64)
        assert torch.allclose(probs[0, :3], third, atol=1e-3)  # ~uniform


# ------------------------------------------------------------------------------ sampler
class _CountingDecoder:
    """Logits that favour id (step + 1) % V; the boundary id is allowed from step 70 on."""

    vocab = 5

    def start(self, prefix, n):
        self.step, self.n = 0, n
        return self._logits()

    def advance(self, tokens):
        self.step += 1
        return self._logits()

    def _logits(self):
        logits = torch.full((self.n, self.vocab), -5.0)
        logits[:, 1 + self.step % (self.vocab - 1)] = 5.0
        if self.step < 70:
            logits[:, BOUNDARY_ID] = float("-inf")
        return logits


def test_sample_greedy_grows_its_buffer_and_stops_at_the_boundary():
    rows = sample(_CountingDecoder(), torch.tensor([], dtype=torch.long), 3, 500,
                  stop_at_boundary=True, temperature=0, generator=_gen())  # fmt: skip
    expected = [1 + s % 4 for s in range(500)]
    assert rows == [expected] * 3  # past the first 64 columns; greedy never picks the boundary


def test_sample_respects_max_new_and_stream_mode_never_emits_the_boundary():
    rows = sample(_CountingDecoder(), torch.tensor([], dtype=torch.long), 4, 90,
                  stop_at_boundary=False, temperature=3.0, generator=_gen())  # fmt: skip
    assert all(len(r) == 90 and BOUNDARY_ID not in r for r in rows)


def test_sample_is_reproducible_with_a_seeded_generator():
    def draw(seed):
        return sample(_CountingDecoder(), torch.tensor([], dtype=torch.long), 8, 40,
                      stop_at_boundary=False, temperature=5.0, generator=_gen(seed))  # fmt: skip

    assert draw(1) == draw(1) and draw(1) != draw(2)


@pytest.fixture(scope="module")
def bigram():
    return charzoo.CharBigram().fit(load_names()[:3000])


def test_generate_with_a_tiny_nucleus_is_greedy(bigram):
    greedy = bigram.generate(4, prefix="m", temperature=0)
    assert bigram.generate(4, prefix="m", top_p=1e-9, random_state=5) == greedy
    assert bigram.generate(4, prefix="m", top_k=1, random_state=6) == greedy


def test_generate_top_p_only_uses_nucleus_characters(bigram):
    # after "q" the names corpus continues with few letters: a small nucleus keeps the top one
    logp = torch.log_softmax(bigram.module_(torch.tensor([[bigram.tokenizer_.encode("q")[0]]]))
                             .reshape(-1), dim=0)  # fmt: skip
    top = bigram.tokenizer_.decode([int(logp.argmax())])
    samples = bigram.generate(50, prefix="q", top_p=0.3, max_length=1, random_state=0)
    assert {s[1:] for s in samples} <= {top, ""}


# ------------------------------------------------------------------------------ decoders
@pytest.mark.parametrize("name", ["mlp", "lstm", "bow", "transformer"])
def test_decoder_select_keeps_exact_rows(name):
    """``sample`` drops ended rows through ``decoder.select``: the kept rows must continue
    exactly as a decoder that only ever saw them (the speed path of ``generate``)."""
    train = load_names()[:500]
    model = charzoo.create_model(name, max_steps=5, batch_size=16, random_state=0).fit(train)
    model.module_.eval()
    history = torch.randint(1, model.tokenizer_.vocab_size, (6, 7), generator=_gen())
    keep = torch.tensor([0, 2, 5])
    with torch.no_grad():
        full, part = model._decoder(), model._decoder()
        full.start(torch.tensor([3]), 6)
        part.start(torch.tensor([3]), 3)
        for t in range(4):
            full.advance(history[:, t])
            part.advance(history[keep, t])
        full.select(keep)
        for t in range(4, 7):
            a, b = full.advance(history[keep, t]), part.advance(history[keep, t])
            assert torch.allclose(a, b, atol=1e-5)


def test_kv_cache_reprime_matches_full_recomputation():
    """A Transformer's cache holds at most ``block_size`` ids; when it is full the decoder
    re-primes on the last half block. Every step must equal a full forward pass over the
    window the decoder attends to, before and after each re-prime."""
    text = "\n".join(load_names()[:400])
    model = charzoo.CharTransformer(block_size=8, n_layers=2, n_embd=16, n_heads=2, max_steps=30,
                                    batch_size=8, random_state=0).fit([text])  # fmt: skip
    module = model.module_.eval()
    block, keep = 8, 8 - 8 // 2
    tokens = torch.randint(1, model.tokenizer_.vocab_size, (3, 30), generator=_gen())
    prefix = torch.tensor(model.tokenizer_.encode("an"))
    cached, full = SequenceDecoder(module), FullContextDecoder(module)
    with torch.no_grad():
        history = torch.cat([torch.tensor([BOUNDARY_ID]), prefix]).repeat(3, 1)
        a, b = cached.start(prefix, 3), full.start(prefix, 3)
        assert torch.allclose(a, b, atol=1e-5)
        window = history.shape[1]
        reprimed = 0
        for t in range(tokens.shape[1]):
            history = torch.cat([history, tokens[:, t : t + 1]], dim=1)
            window = keep if window + 1 > block else window + 1
            reprimed += window == keep
            expected = module(history[:, -window:])[0][:, -1]
            got = cached.advance(tokens[:, t])
            assert torch.allclose(got, expected, atol=1e-5), t
            if len(history[0]) <= block:  # no re-prime yet: the same as full recomputation
                assert torch.allclose(got, full.advance(tokens[:, t]), atol=1e-5)
            else:
                full.advance(tokens[:, t])
    assert reprimed >= 5  # the path under test ran several times


def test_default_max_length_is_twice_the_longest_text_or_256_in_stream_mode():
    # greedy decoding never ends after "a" (a -> a is the likeliest bigram), so the text runs
    # for exactly the default max_length
    long = "a" * 40
    model = charzoo.CharBigram(alpha=0.1).fit([long, "ab", "ab"])
    assert model.max_text_length_ == 40
    assert model.generate(1, temperature=0) == ["a" * 80]
    assert model.generate(1, prefix="aa", temperature=0) == ["a" * 82]  # 80 after the prefix
    short = charzoo.CharBigram(alpha=0.1).fit(["aaaa", "ab", "ab"])
    assert short.generate(1, temperature=0) == ["a" * 32]  # at least 32
    stream = charzoo.CharBigram().fit(["ab" * 300])
    assert stream.mode_ == "stream"
    assert len(stream.generate(1, prefix="a", temperature=0)[0]) == 1 + 256
