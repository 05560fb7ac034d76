"""Packed document batches (``CharTransformer(pack_documents=True)``) on real names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from charzoo.models.transformer import CharTransformer
from charzoo.sequence import SequenceTask
from charzoo.sequence.batching import Packing, _first_fit_decreasing
from charzoo.tokenizer import BOUNDARY_ID
from tests.conftest import TINY

SMALL = {"n_layers": 2, "n_heads": 2, "n_embd": 16, "block_size": 16, **TINY, "max_steps": 30}


@pytest.fixture(scope="module")
def packed_model(small_names):
    return CharTransformer(**SMALL, pack_documents=True).fit(small_names[0])


@pytest.fixture(scope="module")
def corpus(packed_model, small_names):
    # one text in ten longer than block_size: cropped at a random offset when drawn
    long = [name * 4 for name in small_names[0][400:440]]
    return packed_model._encode(small_names[0][:400] + long)


def _task(corpus, pack, seed=5, length=16):
    generator = torch.Generator().manual_seed(seed)
    task = SequenceTask(corpus, None, 64, length, "random", generator, pack=pack)
    task._place(torch.device("cpu"))
    return task


@pytest.mark.parametrize("width", [5, 16, 31])
def test_first_fit_decreasing_places_every_text_without_overlap(width):
    rng = np.random.default_rng(width)
    lengths = rng.integers(1, width + 1, size=200)
    rows, cols, n_rows = _first_fit_decreasing(lengths, width)
    grid = np.zeros((n_rows, width), dtype=int)
    for r, c, n in zip(rows, cols, lengths):
        assert c + n <= width
        grid[r, c : c + n] += 1
    assert grid.max() == 1 and grid.sum() == lengths.sum()
    # first fit decreasing: at most one row is at most half full
    assert (grid.sum(axis=1) <= width // 2).sum() <= 1


def test_packed_batch_holds_the_padded_batch_texts(corpus, packed_model):
    """The same draws give the same texts, inputs and targets, packed or padded."""
    for seed in range(3):
        x, y, packing = _task(corpus, True, seed)._document_batch(packed_model.module_)
        xp, yp, none = _task(corpus, False, seed)._document_batch(packed_model.module_)
        assert none is None and isinstance(packing, Packing)
        assert x.shape[0] < xp.shape[0] and x.numel() < xp.numel()
        assert int((y != -100).sum()) == int((yp != -100).sum())
        for i in range(xp.shape[0]):
            n = int((yp[i] != -100).sum())
            where = packing.segments == i
            assert int(where.sum()) == n
            assert x[where].tolist() == xp[i, :n].tolist()
            assert y[where].tolist() == yp[i, :n].tolist()
            assert packing.positions[where].tolist() == list(range(n))
        # windows that start inside a long text: position 0, not the boundary id
        inside = (packing.positions == 0) & (packing.segments >= 0) & (x != BOUNDARY_ID)
        assert inside.any()
        padding = packing.segments == -1
        assert (y[padding] == -100).all() and (packing.positions[padding] == 0).all()


def test_packed_loss_equals_padded_loss(corpus, packed_model):
    module = packed_model.module_.eval()  # no dropout: the two batches compute the same loss
    packed, padded = _task(corpus, True), _task(corpus, False)
    for _ in range(3):
        with torch.no_grad():
            a, b = float(packed.train_loss(module)), float(padded.train_loss(module))
        assert a == pytest.approx(b, rel=1e-5)


def test_each_packed_text_gets_its_logits_alone(corpus, packed_model):
    module = packed_model.module_.eval()
    x, _, packing = _task(corpus, True)._document_batch(module)
    with torch.no_grad():
        logits, _ = module(x, packing=packing)
        for text in [0, 7, 63]:
            where = packing.segments == text
            alone, _ = module(x[where][None])
            assert torch.allclose(logits[where], alone[0], atol=1e-5)


def test_packing_with_a_cache_is_refused(packed_model):
    module = packed_model.module_.eval()
    ids = torch.zeros((1, 4), dtype=torch.long)
    _, cache = module(ids)
    packing = Packing(torch.zeros_like(ids), torch.zeros_like(ids))
    with pytest.raises(ValueError, match="no cache"):
        module(ids, cache, packing=packing)


def test_packed_fit_learns_as_well_and_reproduces(packed_model, small_names):
    train, test = small_names
    padded = CharTransformer(**SMALL).fit(train)
    again = CharTransformer(**SMALL, pack_documents=True).fit(train)
    assert again.score(test) == packed_model.score(test)
    assert again.generate(5) == packed_model.generate(5)
    # the same loss on the same texts: the two fits end close (dropout masks differ)
    assert packed_model.score(test) == pytest.approx(padded.score(test), rel=0.03)
    assert packed_model.history_["train_loss"][-1] < np.log(packed_model.tokenizer_.vocab_size)


def test_stream_mode_ignores_packing(shakespeare_text):
    params = {**SMALL, "batch_size": 8, "max_steps": 10}
    a = CharTransformer(**params, pack_documents=True).fit([shakespeare_text])
    b = CharTransformer(**params).fit([shakespeare_text])
    assert a.mode_ == "stream" and a.score([shakespeare_text[:500]]) == b.score(
        [shakespeare_text[:500]]
    )


@pytest.mark.parametrize("longest", [6, 12, 16, 20, 32])
def test_the_memory_probe_bounds_the_packed_batches(packed_model, longest):
    """The probe (rows, width) covers the slots and the attention scores of every batch,
    also when texts are longer than half the block and fill a row each."""
    model = CharTransformer.from_preset("names", batch_size=64)
    assert model.pack_documents is True and model.block_size == 32
    rng = np.random.default_rng(longest)
    texts = ["".join(rng.choice(list("abcde"), size=rng.integers(longest * 4 // 5, longest)))
             for _ in range(300)]  # fmt: skip
    texts[0] = "a" * (longest - 1)  # longest targets, with the end marker
    corpus = packed_model._encode(texts)
    probe = model._probe_batch(corpus)
    task = _task(corpus, True, length=32)
    for _ in range(20):
        x, _, _ = task._document_batch(packed_model.module_)
        assert x.numel() <= probe.numel()
        assert x.shape[0] * x.shape[1] ** 2 <= probe.shape[0] * probe.shape[1] ** 2


def test_the_memory_probe_runs_the_packed_forward(packed_model, corpus):
    batch = packed_model._probe_batch(corpus)
    ids = torch.zeros(batch.shape, dtype=torch.long)
    logits, _ = packed_model._probe_forward(packed_model.module_, ids)
    assert logits.shape[:2] == batch.shape


def test_pack_documents_must_be_a_bool(small_names):
    with pytest.raises(ValueError, match="pack_documents"):
        CharTransformer(**SMALL, pack_documents="yes").fit(small_names[0][:50])
