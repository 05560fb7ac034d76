"""The precision and compile hyperparameters of the neural models."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from charzoo import CharGRU, CharMLP, CharTransformer, load
from charzoo.metrics import perplexity_scorer
from charzoo.precision import CompileFallbackWarning, precision_context, resolve_precision
from tests.conftest import TINY


def test_defaults_validation_clone_and_grid(small_names):
    model = CharMLP()
    assert model.get_params()["precision"] == "auto" and model.get_params()["compile"] is False
    twin = clone(CharMLP(precision="bf16", compile=True))
    assert twin.precision == "bf16" and twin.compile is True
    with pytest.raises(ValueError, match="precision"):
        CharMLP(precision="fp64", **TINY).fit(["emma", "ava"])
    with pytest.raises((TypeError, ValueError), match="compile"):
        CharMLP(compile="yes", **TINY).fit(["emma", "ava"])
    train, _ = small_names
    search = GridSearchCV(
        CharMLP(**{**TINY, "max_steps": 20}),
        {"precision": ["fp32", "bf16"]},
        scoring=perplexity_scorer,
        cv=2,
    ).fit(train[:400])
    assert search.best_params_["precision"] in {"fp32", "bf16"}
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_precision_saved_and_loaded(small_names, tmp_path):
    train, test = small_names
    model = CharMLP(precision="bf16", **TINY).fit(train[:300])
    model.save(tmp_path / "m.cz")
    again = load(tmp_path / "m.cz")
    assert again.precision == "bf16" and again.compile is False
    assert again.score(test[:50]) == pytest.approx(model.score(test[:50]))


def test_auto_is_fp32_off_cuda_and_bf16_on_a_bf16_gpu(monkeypatch):
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("fp16", "cpu") == "fp16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", "cuda") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", "cuda:0") == "fp32"


def test_precision_context_autocasts_matmuls():
    a = torch.randn(4, 4)
    with precision_context("fp32", "cpu"):
        assert (a @ a).dtype == torch.float32
    with precision_context("bf16", "cpu"):
        assert (a @ a).dtype == torch.bfloat16
    with precision_context("auto", "cpu"):  # fp32 on the CPU: results unchanged
        assert (a @ a).dtype == torch.float32


SMALL = {
    CharMLP: {},
    CharGRU: {"n_embd": 8, "n_hidden": 24, "n_layers": 1},
    CharTransformer: {"n_layers": 2, "n_heads": 2, "n_embd": 16, "block_size": 16},
}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("cls", list(SMALL))
def test_reduced_precision_trains_on_cpu(cls, precision, small_names):
    train, test = small_names
    model = cls(precision=precision, **SMALL[cls], **TINY).fit(train[:500])
    nll = model.score_samples(test[:30])
    assert np.all(np.isfinite(nll)) and nll.dtype == np.float64
    assert model.history_["train_loss"][-1] < math.log(model.tokenizer_.vocab_size)
    assert len(model.generate(5, max_length=8)) == 5
    # the module's weights stay fp32 (autocast casts per operation)
    assert all(p.dtype == torch.float32 for p in model.module_.parameters())


def test_fp32_and_auto_agree_on_cpu(small_names):
    train, test = small_names
    a = CharMLP(precision="fp32", **TINY).fit(train[:300])
    b = CharMLP(precision="auto", **TINY).fit(train[:300])
    assert a.score(test[:50]) == b.score(test[:50])


def _fit_recording(model, texts):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(texts)
    return [w for w in caught if issubclass(w.category, CompileFallbackWarning)]


def test_compile_failure_falls_back_with_one_warning(monkeypatch, small_names):
    train, test = small_names
    plain = CharMLP(**TINY).fit(train[:300])

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    model = CharMLP(compile=True, **TINY)
    fallbacks = _fit_recording(model, train[:300])
    assert len(fallbacks) == 1 and "no compiler here" in str(fallbacks[0].message)
    assert model.score(test[:50]) == plain.score(test[:50])  # the same training, uncompiled


def test_compile_failure_at_the_first_call_falls_back_once(monkeypatch, small_names):
    train, _ = small_names

    def lazy(module, *args, **kwargs):
        def call(*a, **k):
            raise RuntimeError("inductor failed")

        return call

    monkeypatch.setattr(torch, "compile", lazy)
    model = CharMLP(compile=True, **TINY)
    assert len(_fit_recording(model, train[:300])) == 1
    assert model.n_steps_ == TINY["max_steps"] and np.isfinite(model.score(["emma"]))


def test_compile_works_or_warns_once(small_names):
    train, test = small_names
    model = CharMLP(compile=True, **{**TINY, "max_steps": 10})
    fallbacks = _fit_recording(model, train[:200])
    assert len(fallbacks) <= 1
    assert model.n_steps_ == 10 and np.isfinite(model.score(test[:20]))
