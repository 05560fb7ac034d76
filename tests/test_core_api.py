"""The user-facing estimator contract (fit, generate, score, sklearn tools), line by line, on
the bundled names."""

import math
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from charzoo import CharBigram, CharMLP, create_model, get_model_class, list_models, load
from charzoo.metrics import perplexity_scorer
from tests.conftest import TINY


@pytest.fixture(scope="module")
def mlp(small_names):
    train, _ = small_names
    return CharMLP(block_size=3, **TINY).fit(train)


def test_bigram_matches_hand_computed_probability():
    model = CharBigram(alpha=0.0).fit(["ab", "ac"])
    # vocab {boundary, a, b, c}: P(a|start)=1, P(b|a)=1/2, P(end|b)=1
    assert model.score_samples(["ab"])[0] == pytest.approx(math.log(0.5))
    assert model.score(["ab"]) == pytest.approx(0.5 ** (-1 / 3))


def test_bigram_full_names_quality(names_split):
    train, _, test = names_split
    nll = math.log(CharBigram().fit(train).score(test))
    assert abs(nll - 2.45) < 0.02


def test_fit_generate_score(mlp, small_names):
    _, test = small_names
    samples = mlp.generate(5, prefix="an", temperature=0.8)
    assert len(samples) == 5 and all(s.startswith("an") for s in samples)
    assert all(set(s) <= set(mlp.tokenizer_.chars) for s in samples)
    ppl = mlp.score(test)
    assert isinstance(ppl, float) and 1 < ppl < mlp.tokenizer_.vocab_size
    # score is exp(total NLL / predicted characters), L + 1 predictions per name
    n_predictions = sum(len(t) + 1 for t in test)
    assert ppl == pytest.approx(math.exp(-mlp.score_samples(test).sum() / n_predictions))


def test_fitted_attributes_and_history(mlp):
    assert mlp.n_steps_ == TINY["max_steps"] and mlp.mode_ == "document"
    assert set(mlp.history_) == {"step", "train_loss", "val_loss", "lr"}
    assert mlp.history_["step"][-1] == TINY["max_steps"]
    assert all(v is not None for v in mlp.history_["val_loss"])
    assert mlp.history_["train_loss"][-1] < mlp.history_["train_loss"][0]


def test_unfitted_model_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CharMLP().generate(1)
    with pytest.raises(NotFittedError):
        CharMLP().score(["a"])


def test_random_state_reproducible(small_names):
    train, test = small_names
    a = CharMLP(**TINY).fit(train)
    b = CharMLP(**TINY).fit(train)
    assert a.score(test) == b.score(test)
    assert a.generate(10) == b.generate(10) == a.generate(10)
    assert a.generate(10, random_state=1) != a.generate(10, random_state=2)
    c = CharMLP(**{**TINY, "random_state": 1}).fit(train)
    assert c.score(test) != a.score(test)


def test_unknown_character_at_score_and_prefix(mlp):
    with pytest.raises(ValueError, match=r"'\$'.*index 1"):
        mlp.score(["anna", "an$a"])
    with pytest.raises(ValueError, match=r"'Z'"):
        mlp.generate(2, prefix="Zo")
    ignoring = clone(mlp).set_params(handle_unknown="ignore")
    ignoring.fit(["anna", "bob"])
    assert ignoring.score(["an$na"]) == pytest.approx(ignoring.score(["anna"]))


def test_fit_rejects_bad_input():
    with pytest.raises(TypeError, match="single str"):
        CharMLP(**TINY).fit("emma")
    with pytest.raises(ValueError, match="empty"):
        CharMLP(**TINY).fit([])
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        CharMLP(**TINY).fit(["emma", None])


@pytest.mark.parametrize(
    "params",
    [{"block_size": 0}, {"n_embd": -1}, {"learning_rate": 0}, {"batch_size": 2.5}, {"mode": "x"}],
)
def test_bad_hyperparameters_raise_at_fit(params):
    model = CharMLP(**params)  # no validation in __init__ (sklearn contract)
    with pytest.raises(ValueError, match=next(iter(params))):
        model.fit(["anna", "bob"])


def test_sampling_parameters(mlp):
    greedy = mlp.generate(4, temperature=0)
    assert len(set(greedy)) == 1
    assert len(mlp.generate(3, top_k=1, temperature=2.0, random_state=5)) == 3
    assert mlp.generate(3, top_k=1) == mlp.generate(3, temperature=0)
    assert mlp.generate(0) == []
    assert all(len(s) <= 2 + 4 for s in mlp.generate(20, prefix="ab", max_length=4))
    for bad in [{"temperature": -1}, {"top_k": 0}, {"top_p": 0}, {"top_p": 1.5}, {"n": -1}]:
        with pytest.raises(ValueError, match=next(iter(bad))):
            mlp.generate(**bad)


def test_grid_search_with_perplexity_scorer(small_names):
    train, _ = small_names
    search = GridSearchCV(
        CharMLP(max_steps=300, random_state=0),
        {"block_size": [1, 3]},
        scoring=perplexity_scorer,
        cv=3,
    ).fit(train)
    assert search.best_params_ == {"block_size": 3}
    assert search.best_score_ < -1


def test_score_without_scoring_warns_about_direction(small_names):
    train, _ = small_names
    with pytest.warns(UserWarning, match="perplexity_scorer"):
        cross_val_score(CharBigram(), train, cv=2)


def test_registry_create_model():
    assert {"bigram", "mlp"} <= set(list_models())
    assert list_models("ml*") == ["mlp"]
    model = create_model("mlp", block_size=3)
    assert type(model) is CharMLP and model.block_size == 3
    assert get_model_class("bigram") is CharBigram
    with pytest.raises(ValueError, match="unknown model 'nope'.*mlp"):
        create_model("nope")


def test_clone_and_params_roundtrip():
    model = CharMLP(block_size=5, learning_rate=0.01, mode="document")
    params = model.get_params()
    assert params["block_size"] == 5 and params["learning_rate"] == 0.01
    assert {"max_steps", "random_state", "warm_start", "device"} <= set(params)
    twin = clone(model)
    assert twin.get_params() == params and twin is not model
    assert "block_size=5" in repr(model)


def test_save_load_roundtrip(mlp, small_names, tmp_path):
    _, test = small_names
    path = tmp_path / "names.cz"
    mlp.save(path)
    loaded = load(path)
    assert type(loaded) is CharMLP
    assert loaded.score(test) == mlp.score(test)
    assert loaded.generate(5, random_state=3) == mlp.generate(5, random_state=3)
    assert loaded.get_params() == mlp.get_params()
    assert loaded.history_ == mlp.history_


def test_pickle_and_joblib(mlp, small_names, tmp_path):
    _, test = small_names
    assert pickle.loads(pickle.dumps(mlp)).score(test) == mlp.score(test)
    joblib.dump(mlp, tmp_path / "m.joblib")
    assert joblib.load(tmp_path / "m.joblib").score(test) == mlp.score(test)


def test_warm_start_continues_training(small_names):
    train, test = small_names
    model = CharMLP(**TINY, warm_start=True).fit(train)
    first = model.score(test)
    model.fit(train)
    assert model.n_steps_ == 2 * TINY["max_steps"]
    assert model.history_["step"][-1] == 2 * TINY["max_steps"]
    assert model.score(test) < first


def test_validation_texts_and_callbacks(small_names):
    train, test = small_names
    records = []
    model = CharMLP(**TINY, eval_interval=20, callbacks=[lambda est, rec: records.append(rec)])
    model.fit(train, validation_texts=test)
    assert [r["step"] for r in records] == [20, 40, 60]
    best = min(records, key=lambda r: r["val_loss"])
    assert model.best_step_ == best["step"]  # the kept weights are the best on validation
    assert [r["improved"] for r in records][0] is True
    val_loss = float(np.log(model.score(test)))  # validation_texts are the test names here
    assert val_loss == pytest.approx(best["val_loss"], rel=1e-6)
    assert all(np.isfinite(r["train_loss"]) for r in records)


def test_stream_mode_on_shakespeare(shakespeare_text):
    model = CharMLP(block_size=8, **TINY).fit([shakespeare_text])
    assert model.mode_ == "stream"
    texts = model.generate(2, prefix="ROMEO:", max_length=50)
    assert all(t.startswith("ROMEO:") and len(t) == 56 for t in texts)
    assert 1 < model.score([shakespeare_text[-2000:]]) < model.tokenizer_.vocab_size


def test_diverging_training_restores_finite_weights(small_names, tmp_path):
    from charzoo import TrainingDivergedWarning

    train, test = small_names
    model = CharMLP(learning_rate=1e6, grad_clip=None, max_steps=200, random_state=0)
    with pytest.warns(TrainingDivergedWarning, match="diverged"):
        model.fit(train)
    assert model.stop_reason_ == "diverged" and model.n_steps_ < 200
    assert np.isfinite(model.score(test))
    model.save(tmp_path / "ok.cz")  # the restored weights are finite, so saving works


def test_public_names_come_from_one_list():
    """``__all__`` is the lazy table's keys, and the static imports name the same objects."""
    import ast
    from pathlib import Path

    import charzoo

    source = Path(charzoo.__file__).read_text(encoding="utf-8")
    static: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in ast.walk(node):
                if isinstance(imp, ast.ImportFrom):
                    for alias in imp.names:
                        static[alias.asname or alias.name] = imp.module
    lazy = {name: charzoo._LAZY[name] for name in charzoo._LAZY}
    assert static == lazy
    assert sorted(charzoo.__all__) == sorted([*lazy, "__version__"])
    for name in lazy:
        assert getattr(charzoo, name) is not None
