"""CharLMClassifier: a scikit-learn classifier with one zoo model per class (small real data:
the bundled names, dinosaur names and russian names of examples/data)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import charzoo
from charzoo import CharLMClassifier, CharMixture, CharNGram
from charzoo.cli import main as cli_main
from charzoo.datasets import load_dinos, load_names

RUSSIAN = Path(__file__).resolve().parent.parent / "examples" / "data" / "russian_names.txt"


def _data(n: int = 150):
    russian = [t for t in RUSSIAN.read_text(encoding="utf-8").split("\n") if t.strip()]
    X = load_names()[:n] + load_dinos()[:n] + russian[:n]
    y = ["name"] * n + ["dino"] * n + ["russian"] * n
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def split():
    return _data()


@pytest.fixture(scope="module")
def fitted(split):
    X_train, _, y_train, _ = split
    return CharLMClassifier(CharNGram(order=3), random_state=0).fit(X_train, y_train)


def test_classifies_held_out_texts(fitted, split):
    _, X_test, _, y_test = split
    assert fitted.score(X_test, y_test) > 0.9
    assert list(fitted.classes_) == ["dino", "name", "russian"]
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(proba), fitted.predict_log_proba(X_test), atol=1e-9)
    decision = fitted.decision_function(X_test)
    assert decision.shape == (len(X_test), 3)
    assert (fitted.classes_[decision.argmax(1)] == fitted.predict(X_test)).all()
    assert fitted.temperature_ > 0 and fitted.bias_.shape == (3,)


def test_shared_vocabulary_smooths_unseen_characters(fitted):
    # every class model knows every character of every class
    chars = {tuple(m.tokenizer_.chars) for m in fitted.estimators_}
    assert chars == {tuple(fitted.tokenizer_.chars)}
    assert "я" in fitted.tokenizer_.chars  # only in the russian names
    assert fitted.predict(["ярослав"])[0] == "russian"
    ll = fitted.class_log_likelihood(["ярослав"])[0]
    assert np.isfinite(ll).all() and ll.argmax() == 2


def test_characters_outside_the_vocabulary(fitted, split):
    X_train, _, y_train, _ = split
    # "ignore" (default): dropped for every class alike, so "olivia#" scores as "olivia"
    np.testing.assert_allclose(fitted.predict_proba(["olivia#€"]), fitted.predict_proba(["olivia"]))
    strict = CharLMClassifier(CharNGram(order=2), handle_unknown="error", calibration=None)
    strict.fit(X_train, y_train)
    with pytest.raises(ValueError, match="'#'.*not seen during fit"):
        strict.predict(["olivia#"])


def test_binary_decision_function_and_priors(split):
    X_train, X_test, y_train, _ = split
    keep = [i for i, label in enumerate(y_train) if label != "russian"]
    X2, y2 = [X_train[i] for i in keep], [y_train[i] for i in keep]
    clf = CharLMClassifier(CharNGram(order=2), calibration=None).fit(X2, y2)
    assert clf.decision_function(X_test).shape == (len(X_test),)
    assert (
        clf.predict(X_test) == np.where(clf.decision_function(X_test) > 0, *clf.classes_[::-1])
    ).all()
    np.testing.assert_allclose(np.exp(clf.class_log_prior_), [0.5, 0.5])
    skewed = clone(clf).set_params(priors=[0.999, 0.001]).fit(X2, y2)
    assert (skewed.predict_proba(X_test)[:, 0] > clf.predict_proba(X_test)[:, 0]).all()


def test_sklearn_contract(fitted):
    name = "CharLMClassifier"
    check_parameters_default_constructible(name, CharLMClassifier())
    check_no_attributes_set_in_init(name, CharLMClassifier())
    check_get_params_invariance(name, CharLMClassifier())
    check_set_params(name, CharLMClassifier())
    assert clone(fitted).get_params()["estimator__order"] == 3
    assert not hasattr(clone(fitted), "classes_")
    with pytest.raises(NotFittedError):
        CharLMClassifier().predict(["abc"])


def test_label_types():
    # what scikit-learn's check_classifiers_classes checks (on numeric input), on text input
    X = load_names()[:30] + load_dinos()[:30]
    y = np.array([0] * 30 + [1] * 30)
    for labels in (y, np.array(["a", "b"])[y], y + 5):
        clf = CharLMClassifier(CharNGram(order=2), calibration=None).fit(X, labels)
        assert set(clf.predict(X)) <= set(labels) and clf.classes_.dtype == labels.dtype


def test_grid_search_nested_parameter(split):
    X_train, X_test, y_train, y_test = split
    search = GridSearchCV(
        CharLMClassifier(CharNGram(), calibration=None),
        {"estimator__order": [1, 3]},
        scoring="accuracy",
        cv=3,
    ).fit(X_train, y_train)
    assert search.best_params_ == {"estimator__order": 3}  # unigrams know no spelling
    assert search.best_estimator_.estimators_[0].order == 3
    assert search.score(X_test, y_test) > 0.9
    assert cross_val_score(CharLMClassifier(CharNGram(order=2)), X_train, y_train, cv=2).min() > 0.8


def test_save_load_round_trip(fitted, split, tmp_path):
    _, X_test, _, _ = split
    path = tmp_path / "clf.cz"
    fitted.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["clf.cz"]  # one file
    loaded = charzoo.load(path)
    assert type(loaded) is CharLMClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted.predict_proba(X_test))
    assert loaded.get_params()["estimator__order"] == 3
    assert list(loaded.classes_) == list(fitted.classes_)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X_test), fitted.predict_proba(X_test))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.cz").write_bytes(bytes(data))
    with pytest.raises(charzoo.ModelFileError):
        charzoo.load(tmp_path / "bad.cz")


def test_mixture_class_model_in_parallel(split, tmp_path):
    X_train, X_test, y_train, y_test = split
    mixture = CharMixture([("a", CharNGram(order=2)), ("b", CharNGram(order=4))])
    clf = CharLMClassifier(mixture, n_jobs=2, random_state=0, calibration=None)
    with parallel_config(backend="threading"):  # the joblib path, without process start-up
        clf.fit(X_train, y_train)
    serial = clone(clf).set_params(n_jobs=None).fit(X_train, y_train)
    np.testing.assert_allclose(clf.predict_proba(X_test), serial.predict_proba(X_test))
    assert clf.score(X_test, y_test) > 0.9
    assert clf.get_params()["estimator__b__order"] == 4
    clf.save(tmp_path / "mix.cz")
    loaded = charzoo.load(tmp_path / "mix.cz")
    np.testing.assert_array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test))


def test_cli_fit_and_classify(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    lines = [f"name\t{t}" for t in load_names()[:100]] + [f"dino\t{t}" for t in load_dinos()[:100]]
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    texts = tmp_path / "texts.txt"
    texts.write_text("olivia\ntyrannosaurus\n", encoding="utf-8")
    model = tmp_path / "clf.cz"
    args = ["fit", "classifier", str(train), "-o", str(model), "--member", "ngram:order=3"]
    assert cli_main([*args, "--seed", "0", "--param", "cv=2", "-q"]) == 0
    assert cli_main(["classify", str(model), str(texts)]) == 0
    assert capsys.readouterr().out.splitlines() == ["name\tolivia", "dino\ttyrannosaurus"]
    assert cli_main(["classify", str(model), str(texts), "--proba"]) == 0
    assert capsys.readouterr().out.split("\t")[0] == "name"
    assert cli_main(["info", str(model)]) == 0
    assert "classes         2: dino, name" in capsys.readouterr().out
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n", encoding="utf-8")
    assert cli_main(["fit", "classifier", str(bad), "-o", str(model)]) != 0
    assert "expected label<TAB>text" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (["anna", "bob"], ["a", "a"], ValueError, "single class"),
        (["anna", "bob", "cy"], ["a", "b"], ValueError, "2 labels but X has 3 texts"),
        (["anna", "bob"], [np.nan, "b"], ValueError, "missing labels"),
        (["anna", "bob"], [None, "b"], ValueError, "missing labels"),
        (["anna", ""], ["a", "b"], ValueError, r"X\[1\] is an empty string"),
        (["anna", 3], ["a", "b"], TypeError, r"X\[1\] is int"),
        ("anna", ["a"], TypeError, "single str"),
        (["anna", "bob"], [0.5, 1.5], ValueError, "continuous"),
        (["anna", "bob"], None, ValueError, "y is required"),
    ],
)
def test_bad_training_input(X, y, error, match):
    with pytest.raises(error, match=match):
        CharLMClassifier(calibration=None).fit(X, y)


def test_bad_settings_and_unseen_class(fitted, split):
    X_train, X_test, y_train, y_test = split
    with pytest.raises(ValueError, match="fewer than cv=3 folds"):
        CharLMClassifier().fit(["anna", "bob", "cy", "dan"], ["a", "a", "a", "b"])
    with pytest.raises(ValueError, match="priors must sum to 1"):
        CharLMClassifier(priors=[0.5, 0.2, 0.2], calibration=None).fit(X_train, y_train)
    with pytest.raises(ValueError, match="one probability per class"):
        CharLMClassifier(priors=[0.5, 0.5], calibration=None).fit(X_train, y_train)
    with pytest.raises(TypeError, match="instance"):
        CharLMClassifier(CharNGram).fit(X_train, y_train)
    with pytest.raises(ValueError, match="calibration"):
        CharLMClassifier(calibration="platt").fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"not seen in fit"):
        fitted.score(X_test[:2], ["martian", y_test[1]])
    with pytest.raises(ValueError, match="empty string"):
        fitted.predict(["anna", ""])


def test_calibration_lowers_held_out_log_loss():
    import re

    from sklearn.metrics import log_loss

    from charzoo.datasets import load_shakespeare

    # English words vs given names: a hard pair, where raw likelihood ratios are over-confident
    words = sorted(set(re.findall(r"[a-z]{4,}", load_shakespeare().lower())) - set(load_names()))
    rng = np.random.RandomState(0)
    X = list(rng.choice(words, 400, replace=False)) + load_names()[::80][:400]
    y = ["word"] * 400 + ["name"] * 400
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
    raw = CharLMClassifier(CharNGram(order=4), calibration=None).fit(X_train, y_train)
    base = log_loss(y_test, raw.predict_proba(X_test))
    assert raw.temperature_ == 1.0 and not raw.bias_.any()
    for kind in ("temperature", "temperature+bias", "matrix"):
        clf = clone(raw).set_params(calibration=kind, random_state=0).fit(X_train, y_train)
        assert log_loss(y_test, clf.predict_proba(X_test)) < base, kind
        assert clf.temperature_ > 1  # the raw scores were over-confident
    assert clf.coef_.shape == (2, 2)  # matrix: from scikit-learn's one-row binary model


def test_numpy_hyperparameters_survive_save_and_load(tmp_path):
    """A grid search hands numpy values; the file stores them as plain numbers, never None."""
    import numpy as np

    from charzoo import CharLMClassifier, CharNGram, load

    texts = ["anna", "emma", "olga", "ivan", "petr", "oleg", "maria", "julia"] * 3
    labels = ["f", "f", "f", "m", "m", "m", "f", "f"] * 3
    model = CharLMClassifier(CharNGram(order=np.int64(3)), cv=np.int64(2)).fit(texts, labels)
    model.save(tmp_path / "c.cz")
    loaded = load(tmp_path / "c.cz")
    assert loaded.cv == 2 and type(loaded.cv) is int
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts))
