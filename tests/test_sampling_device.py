"""Sampling stays on the model's device: seeded, no host read per step, device-sized batches."""

from __future__ import annotations

import pytest
import torch

from charzoo import CharGRU, CharMLP, CharTransformer
from charzoo.sampler import CPU_ROWS, rows_per_batch, sample
from charzoo.sequence import FullContextDecoder, SequenceDecoder
from tests.conftest import TINY

SMALL = {
    CharMLP: {},
    CharGRU: {"n_embd": 8, "n_hidden": 24, "n_layers": 1},
    CharTransformer: {"n_layers": 1, "n_heads": 2, "n_embd": 16, "block_size": 16},
}


@pytest.fixture(scope="module", params=list(SMALL), ids=lambda c: c.__name__)
def fitted(request, small_names):
    return request.param(**SMALL[request.param], **TINY).fit(small_names[0][:500])


def test_same_seed_same_samples(fitted):
    a = fitted.generate(200, random_state=3, top_p=0.9)
    assert a == fitted.generate(200, random_state=3, top_p=0.9)
    assert a != fitted.generate(200, random_state=4, top_p=0.9)


@pytest.mark.parametrize("check_every", [1, 3, 8])
def test_rows_dropped_late_give_the_same_greedy_rows(fitted, check_every):
    # greedy decoding draws no random numbers, so dropping ended rows every k steps (as on a
    # GPU) must give exactly the rows of dropping them at once
    def run(k, decoder=None):
        decoder = decoder or fitted._decoder()
        prefixes = torch.empty(0, dtype=torch.long)
        gen = torch.Generator().manual_seed(0)
        return sample(
            decoder,
            prefixes,
            5,
            30,
            stop_at_boundary=True,
            temperature=0,
            generator=gen,
            check_every=k,
        )

    assert run(check_every) == run(1)
    seeded = [
        sample(
            fitted._decoder(),
            torch.tensor([1]),
            64,
            30,
            stop_at_boundary=True,
            generator=torch.Generator().manual_seed(7),
            check_every=check_every,
        )
        for _ in range(2)
    ]
    assert seeded[0] == seeded[1]  # reproducible with any cadence
    assert all(0 not in row for row in seeded[0])  # rows stop at the end marker


def test_decoders_without_select_stop_too(fitted):
    if not isinstance(fitted, CharGRU):
        pytest.skip("one sequence model is enough")
    full, fast = (
        sample(
            decoder,
            torch.empty(0, dtype=torch.long),
            8,
            40,
            stop_at_boundary=True,
            temperature=0,
            generator=torch.Generator(),
            check_every=8,
        )
        for decoder in (FullContextDecoder(fitted.module_), SequenceDecoder(fitted.module_))
    )
    assert full == fast


@pytest.mark.parametrize("stop", [True, False])
def test_no_host_read_per_step(count_tensor_reads, fitted, stop):
    def run(steps):
        return count_tensor_reads(
            lambda: sample(
                fitted._decoder(),
                torch.tensor([1]),
                16,
                steps,
                stop_at_boundary=stop,
                temperature=2.0,
                top_k=20,
                top_p=0.95,
                generator=torch.Generator().manual_seed(0),
                check_every=8,
            ),
            also=("nonzero",),
        )

    reads, rows = run(96)
    # at most one read (and one nonzero) every 8 steps, plus the final copy to the host;
    # stream mode (no end marker) reads nothing until then
    assert reads <= (2 * 96 // 8 + 2 if stop else 2)
    if not stop:
        assert all(len(row) == 96 for row in rows)


def test_batch_rows_fit_the_device(monkeypatch, fitted):
    assert rows_per_batch(fitted.module_, 10_000, 32) == CPU_ROWS
    assert rows_per_batch(fitted.module_, 100, 32) == 100
    import charzoo.sampler as sampler

    monkeypatch.setattr(sampler, "module_device", lambda m: torch.device("cuda"))
    monkeypatch.setattr(sampler, "available_memory", lambda d: 80 * 10**9)
    assert rows_per_batch(fitted.module_, 10_000, 32) == 10_000  # all at once on a big GPU
    monkeypatch.setattr(sampler, "available_memory", lambda d: 10**6)
    assert rows_per_batch(fitted.module_, 10_000, 32) == CPU_ROWS  # never below the CPU size
