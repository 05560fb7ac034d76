"""Tests of charzoo-mingru: the paper's recurrences, parallel == sequential, charzoo's checks."""

import math

import pytest
import torch
from charzoo_mingru import CharMinGRU, CharMinLSTM, MinRNNModule, parallel_scan_log
from charzoo_mingru.model import MinRNNLayer, _logcumsumexp

import charzoo
from charzoo.datasets import load_names, train_val_test_split
from charzoo.testing import parametrize_with_checks
from charzoo.utils import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@parametrize_with_checks([CharMinGRU, CharMinLSTM])
def test_charzoo_conformance(estimator, check):
    check(estimator)


def test_registered_through_the_entry_point_only():
    for name, cls in [("mingru", CharMinGRU), ("minlstm", CharMinLSTM)]:
        info = charzoo.model_info(name)
        assert info.cls is cls and (info.package, info.plugin) == ("charzoo-mingru", "mingru")


def _g(x):
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_layer_follows_the_paper_recurrence(cell):
    torch.manual_seed(0)
    layer = MinRNNLayer(cell, 6, 5)
    x, h0 = torch.randn(2, 9, 6), torch.rand(2, 5) + 0.1
    *gates, cand = layer.proj(x).chunk(layer.n_gates + 1, dim=-1)
    h, states = h0, []
    for t in range(9):  # the sequential definitions of Feng et al. (2024), Algorithms 2 and 4
        if cell == "gru":
            z = torch.sigmoid(gates[0][:, t])
            h = (1 - z) * h + z * _g(cand[:, t])
        else:
            f, i = torch.sigmoid(gates[0][:, t]), torch.sigmoid(gates[1][:, t])
            h = f / (f + i) * h + i / (f + i) * _g(cand[:, t])
        states.append(h)
    out, last = layer(x, h0)  # parallel scan from the carried state
    torch.testing.assert_close(out, layer.out(torch.stack(states, 1)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last, states[-1], rtol=1e-5, atol=1e-5)
    step_out, step_h = layer(x[:, :1], h0)  # one cheap recurrent step (generation)
    torch.testing.assert_close(step_h, states[0], rtol=1e-5, atol=1e-6)


def test_parallel_scan_matches_loop_and_survives_extreme_gates():
    torch.manual_seed(1)
    log_a, b = -3 * torch.rand(3, 40, 4), torch.rand(3, 40, 4) + 0.01
    h, loop = torch.zeros(3, 4), []
    for t in range(40):
        h = log_a[:, t].exp() * h + b[:, t]
        loop.append(h)
    torch.testing.assert_close(parallel_scan_log(log_a, b.log()), torch.stack(loop, 1))
    x = torch.randn(2, 50, 3)
    x[0, :10] -= 1000  # beyond float64 range of the fast path: falls back, stays exact
    torch.testing.assert_close(_logcumsumexp(x), torch.logcumsumexp(x, dim=1))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_module_generation_state_matches_full_sequence(cell):
    torch.manual_seed(0)
    module = MinRNNModule(cell, 11, 8, 12, 2, dropout=0.0).eval()
    idx = torch.randint(11, (3, 15))
    full, _ = module(idx)
    state, steps = None, []
    for t in range(15):
        logits, state = module(idx[:, t : t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=1e-4, atol=1e-5)
    first, carried = module(idx[:, :6])  # chunks with the state carried (stream scoring)
    second, _ = module(idx[:, 6:], carried)
    torch.testing.assert_close(torch.cat([first, second], 1), full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [CharMinGRU, CharMinLSTM])
def test_learns_names(cls):
    train, _, test = train_val_test_split(load_names()[:3000], random_state=0)
    model = cls(n_embd=32, n_layers=2, max_steps=150, random_state=0).fit(train)
    assert math.log(model.score(test)) < 2.6  # unigram ~2.9 nats, uniform ln(27) = 3.3
    assert all(s.startswith("em") for s in model.generate(5, prefix="em"))
