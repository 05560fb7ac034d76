"""Presets: ``Model.presets`` and ``Model.from_preset`` on every model, and the CLI listing."""

from __future__ import annotations

import pytest

import charzoo
from charzoo.cli import main
from charzoo.datasets import load_names


def _classes():
    return [charzoo.model_info(name).cls for name in charzoo.list_models()]


@pytest.mark.parametrize("cls", _classes(), ids=lambda c: c.__name__)
def test_every_preset_builds_a_valid_model(cls):
    assert isinstance(cls.presets, dict)
    for name, params in cls.presets.items():
        model = cls.from_preset(name, random_state=3)
        assert model.random_state == 3
        for key, value in params.items():
            assert model.get_params()[key] == value, (cls.__name__, name, key)
        model._validate_params(device=False)  # the preset passes the class's constraints


def test_unknown_preset_names_the_known_ones():
    message = "CharLSTM has no preset 'nope'; its presets: names, shakespeare"
    with pytest.raises(ValueError, match=message):
        charzoo.CharLSTM.from_preset("nope")
    with pytest.raises(ValueError, match="its presets: none"):
        charzoo.CharBigram.from_preset("names")


def test_preset_overrides_apply_last():
    model = charzoo.CharMLP.from_preset("names", n_hidden=7)
    preset = charzoo.CharMLP.presets["names"]
    assert model.n_hidden == 7 and model.batch_norm is preset["batch_norm"]


def test_cli_lists_presets(capsys):
    assert main(["models", "--presets"]) == 0
    out = capsys.readouterr().out
    rows = [line.split(maxsplit=2) for line in out.splitlines()[1:]]
    listed = {(row[0], row[1]) for row in rows}
    assert {("mlp", "names"), ("wavenet", "names"), ("lstm", "shakespeare")} <= listed
    assert "batch_norm=True" in out


def test_transformer_names_preset_fits_its_shape_on_names():
    names = load_names()[:300]
    model = charzoo.CharTransformer.from_preset("names", max_steps=5, random_state=0)
    model.fit(names[:250])
    assert len(model.module_.blocks) == 5 and model.module_.tok.embedding_dim == 112
    assert 1.0 < model.score(names[250:]) < model.tokenizer_.vocab_size
