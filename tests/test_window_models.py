"""The window models: n-gram counts, neural bigram, BatchNorm MLP, WaveNet."""

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone

from charzoo import (
    CharBigram,
    CharMLP,
    CharNeuralBigram,
    CharNGram,
    CharWaveNet,
    create_model,
    load,
)
from charzoo.layers import BatchNorm
from charzoo.models.wavenet import FlattenConsecutive
from tests.conftest import TINY

NEW_MODELS = [
    pytest.param(lambda: CharNGram(order=4), id="ngram-kn"),
    pytest.param(lambda: CharNGram(order=3, smoothing="witten_bell"), id="ngram-wb"),
    pytest.param(lambda: CharNGram(order=3, smoothing="add_k", alpha=0.5), id="ngram-addk"),
    pytest.param(lambda: CharNeuralBigram(**TINY), id="neural_bigram"),
    pytest.param(
        lambda: CharMLP(batch_norm=True, n_layers=2, block_size=4, n_hidden=32, **TINY), id="mlp_bn"
    ),
    pytest.param(lambda: CharWaveNet(block_size=4, n_embd=8, n_hidden=32, **TINY), id="wavenet"),
]


@pytest.mark.parametrize("make", NEW_MODELS)
def test_fit_generate_score_save_load_clone(make, small_names, tmp_path):
    train, test = small_names
    model = make().fit(train)
    samples = model.generate(4, prefix="ma", temperature=0.8, random_state=1)
    assert len(samples) == 4 and all(s.startswith("ma") for s in samples)
    assert all(set(s) <= set(model.tokenizer_.chars) for s in samples)
    ppl = model.score(test)
    assert 1 < ppl < model.tokenizer_.vocab_size  # better than uniform
    model.save(tmp_path / "m.cz")
    loaded = load(tmp_path / "m.cz")
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.score_samples(test[:50]), model.score_samples(test[:50]))
    assert loaded.generate(4, prefix="ma", random_state=1) == model.generate(
        4, prefix="ma", random_state=1
    )
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "module_")


@pytest.mark.parametrize(
    "name, cls",
    [("ngram", CharNGram), ("neural_bigram", CharNeuralBigram), ("wavenet", CharWaveNet)],
)
def test_registered_as_plugins(name, cls):
    assert type(create_model(name)) is cls


# ------------------------------------------------------------------------------ neural bigram
def test_neural_bigram_converges_to_count_bigram(names_split):
    train, _, test = names_split
    train, test = train[:4000], test[:500]
    counts = math.log(CharBigram().fit(train).score(test))
    neural = CharNeuralBigram(max_steps=150, batch_size=2048, learning_rate=0.3, random_state=0)
    assert abs(math.log(neural.fit(train).score(test)) - counts) < 0.02


def test_neural_bigram_starts_uniform(small_names):
    train, _ = small_names
    model = CharNeuralBigram(max_steps=1, eval_interval=1, random_state=0).fit(train)
    assert model.history_["train_loss"][0] == pytest.approx(math.log(model.tokenizer_.vocab_size))


# ------------------------------------------------------------------------- BatchNorm MLP
def test_batchnorm_mlp_initial_loss_is_log_vocab(small_names):
    train, _ = small_names
    model = CharMLP(batch_norm=True, n_layers=4, max_steps=1, eval_interval=1, random_state=0)
    model.fit(train)
    initial = model.history_["train_loss"][0]
    assert abs(initial - math.log(model.tokenizer_.vocab_size)) < 0.1
    assert sum(isinstance(m, BatchNorm) for m in model.module_.modules()) == 4


@pytest.mark.parametrize(
    "make",
    [
        lambda: CharMLP(batch_norm=True, n_layers=2, n_hidden=32, **TINY),
        lambda: CharWaveNet(block_size=8, n_embd=8, n_hidden=32, **TINY),
        lambda: CharMLP(n_hidden=32, dropout=0.5, **TINY),
        lambda: CharWaveNet(block_size=8, n_embd=8, n_hidden=32, dropout=0.5, **TINY),
    ],
    ids=["mlp_bn", "wavenet", "mlp_dropout", "wavenet_dropout"],
)
def test_eval_mode_score_alone_equals_score_in_batch(make, small_names):
    train, test = small_names
    model = make().fit(train)
    running = {k: v.clone() for k, v in model.module_.state_dict().items()}
    alone = model.score_samples(["emma"])[0]
    in_batch = model.score_samples(["olivia", "emma", *test[:100]])[1]
    assert alone == pytest.approx(in_batch, abs=1e-5)
    for key, value in model.module_.state_dict().items():  # scoring never updates the stats
        torch.testing.assert_close(value, running[key])


@pytest.mark.parametrize("make", NEW_MODELS)
def test_scoring_repeated_windows_once_matches_every_window(make, small_names, monkeypatch):
    """``window_nll`` scores each distinct (context, target) pair once; the NLLs equal a
    forward pass over every window, also when the search for repeats spans several chunks."""
    import charzoo.window as window

    train, test = small_names
    model = make().fit(train)
    data = model._window_data(model._encode(test))
    x, y = data.batch(torch.arange(len(data)))
    with torch.no_grad():
        logits = model.module_(x.to(model.device_)).cpu()
        expected = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    assert len(torch.unique(torch.cat([x, y[:, None]], 1), dim=0)) < 0.9 * len(x)  # repeats
    monkeypatch.setattr(window, "_DISTINCT_CHUNK", 1000)
    monkeypatch.setattr(window, "_WINDOWS_PER_FORWARD", 64)
    torch.testing.assert_close(window.window_nll(model.module_, data), expected)


@pytest.mark.parametrize("cls", [CharMLP, CharWaveNet])
def test_dropout_acts_in_training_only_and_adds_no_weights(cls, small_names):
    train, test = small_names
    plain = cls(n_hidden=32, **TINY).fit(train)
    dropped = cls(n_hidden=32, dropout=0.3, **TINY).fit(train)
    # same weights to save, no Dropout module without the option
    assert plain.module_.state_dict().keys() == dropped.module_.state_dict().keys()
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.module_.modules())
    n_dropout = sum(isinstance(m, torch.nn.Dropout) for m in dropped.module_.modules())
    assert n_dropout == (plain.n_layers if cls is CharMLP else plain.depth)  # one per layer
    # it changes the training trajectory, and scoring is deterministic (eval mode)
    assert dropped.history_["train_loss"] != plain.history_["train_loss"]
    assert dropped.score(test) == dropped.score(test)


def test_mlp_without_batch_norm_keeps_one_hidden_layer_by_default():
    params = CharMLP().get_params()
    assert params["n_layers"] == 1 and params["batch_norm"] is False


# ---------------------------------------------------------------------------------- WaveNet
@pytest.mark.parametrize("block_size", [3, 6, 12])
def test_wavenet_block_size_must_be_power_of_two(block_size):
    with pytest.raises(ValueError, match="power of two"):
        CharWaveNet(block_size=block_size, **TINY).fit(["emma", "olivia"])


def test_wavenet_depth_and_parameter_count(small_names):
    train, _ = small_names
    model = CharWaveNet(max_steps=1, random_state=0).fit(train[:200])
    assert model.depth == 3
    # makemore lecture 5: n_embd=24, n_hidden=128, block 8, vocab 27 -> 76,579 parameters
    assert model.n_parameters_ == 76579


def test_flatten_consecutive_and_3d_batchnorm():
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    y = FlattenConsecutive(2)(x)
    assert y.shape == (2, 2, 6)
    torch.testing.assert_close(y[0, 1], torch.cat([x[0, 2], x[0, 3]]))
    norm = BatchNorm(5)
    z = norm(torch.randn(64, 4, 5) * 3 + 2)
    assert z.shape == (64, 4, 5)
    # statistics are over the batch and the positions, one per channel
    torch.testing.assert_close(z.mean((0, 1)), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std((0, 1), unbiased=False), torch.ones(5), atol=1e-3, rtol=0)
    assert norm.running_mean.shape == (5,)
