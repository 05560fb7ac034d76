"""CharMixture: conformance, nested parameters, EM weights, the mixed distribution, errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import charzoo
from charzoo import CharBigram, CharGRU, CharMLP, CharNGram, CharTokenizer
from charzoo.cli import main
from charzoo.cli.inputs import members_from_specs
from charzoo.datasets import load_names, train_val_test_split
from charzoo.metrics import perplexity_scorer
from charzoo.models._mixing import em_weights
from charzoo.models.mixture import CharMixture
from charzoo.testing import parametrize_with_checks
from tests.known_failures import run_check


def tiny_mlp(**params):
    return CharMLP(**{"n_embd": 4, "n_hidden": 16, "max_steps": 60, "batch_size": 32, **params})


@pytest.fixture(scope="module")
def split():
    train, val, test = train_val_test_split(load_names(), random_state=42)
    return train[:3000], val[:400], test[:400]


@pytest.fixture(scope="module")
def fitted(split):
    train, val, _ = split
    mix = CharMixture(
        [("ngram", CharNGram(order=4)), ("mlp", tiny_mlp(max_steps=300))], random_state=0
    )
    return mix.fit(train, validation_texts=val)


@parametrize_with_checks(
    [
        CharMixture([("ngram", CharNGram(order=3)), ("mlp", tiny_mlp())]),
        CharMixture(
            [
                ("bigram", CharBigram()),
                ("gru", CharGRU(n_embd=8, n_hidden=16, max_steps=30, batch_size=16)),
            ]
        ),
    ],
    check_params={},
)
def test_conformance_with_tiny_members(estimator, check):
    run_check(estimator, check)  # known failures (fixed by other work) expected to fail


def test_registered_and_default_members(split):
    assert charzoo.get_model_class("mixture") is CharMixture
    train, val, test = split
    mix = charzoo.create_model("mixture", random_state=0).fit(train)
    assert list(mix.named_estimators_) == ["ngram5", "ngram3"]
    assert mix.estimators is None  # the parameter is left as given
    assert math.isclose(mix.weights_.sum(), 1.0) and np.all(mix.weights_ > 0)


def test_nested_params_clone_and_set_params():
    mix = CharMixture([("ngram", CharNGram(order=4)), ("mlp", tiny_mlp())], weights="uniform")
    params = mix.get_params(deep=True)
    assert params["ngram__order"] == 4 and params["mlp__n_hidden"] == 16
    assert params["ngram"] is mix.estimators[0][1]
    assert "ngram" not in mix.get_params(deep=False)
    mix.set_params(ngram__order=5, mlp__max_steps=7, weights="fit")
    assert mix.estimators[0][1].order == 5 and mix.estimators[1][1].max_steps == 7
    assert mix.weights == "fit"
    twin = clone(mix)
    assert twin.estimators[0][1] is not mix.estimators[0][1]
    assert twin.get_params()["ngram__order"] == 5
    bigram = CharBigram()
    mix.set_params(ngram=bigram)  # replace a member by name
    assert mix.estimators[0] == ("ngram", bigram)


def test_grid_search_over_a_member_parameter(split):
    train = split[0][:1200]
    search = GridSearchCV(
        CharMixture([("ngram", CharNGram()), ("bigram", CharBigram())], random_state=0),
        {"ngram__order": [1, 4]},
        scoring=perplexity_scorer,
        cv=2,
    )
    search.fit(train)
    assert search.best_params_ == {"ngram__order": 4}
    assert search.best_estimator_.named_estimators_["ngram"].order == 4
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0]  # minus perplexity: order 4 is far better than unigrams


def test_members_share_one_tokenizer_and_their_fit_is_a_clone(fitted, split):
    spec = fitted.estimators[0][1]
    assert not hasattr(spec, "module_")  # the given estimators stay unfitted
    for est in fitted.estimators_:
        assert est.tokenizer_ == fitted.tokenizer_
        assert est.mode_ == fitted.mode_ == "document"
    assert fitted.n_parameters_ == fitted.named_estimators_["mlp"].n_parameters_
    assert set(fitted.fit_seconds_) == {"ngram", "mlp", "weights"}


def test_fit_with_a_given_tokenizer_covers_unseen_characters(split):
    train = split[0][:500]
    tokenizer = CharTokenizer().fit([*train, "xyzé"])
    model = CharNGram(order=3).fit(train, tokenizer=tokenizer)
    assert model.tokenizer_ == tokenizer and model.tokenizer_ is not tokenizer
    assert math.isfinite(model.score(["é"]))  # in the vocabulary, never seen in training
    with pytest.raises(ValueError, match="tokenizer lacks characters of texts: 'Q'"):
        CharNGram().fit(["Qa"], tokenizer=tokenizer)
    with pytest.raises(TypeError, match="tokenizer must be a fitted charzoo CharTokenizer"):
        CharNGram().fit(train, tokenizer="abc")


def test_em_weights_maximise_the_held_out_likelihood():
    gen = torch.Generator().manual_seed(0)
    p = torch.rand(3, 2000, generator=gen, dtype=torch.float64) * 0.9 + 0.05
    weights, n_iter = em_weights(p.log())
    assert torch.isclose(weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert 1 < n_iter < 500

    def loglik(w):
        return float((w[:, None] * p).sum(0).log().mean())

    best = loglik(weights)
    # the gradient on the simplex vanishes at the optimum (KKT for the positive weights)
    grad = (p / (weights[:, None] * p).sum(0)).mean(1)
    assert torch.allclose(grad[weights > 1e-3], torch.ones(1, dtype=torch.float64), atol=1e-3)
    for other in ([1 / 3] * 3, [1, 0, 0], [0.2, 0.3, 0.5]):
        assert loglik(torch.tensor(other, dtype=torch.float64)) <= best + 1e-12
    # a member that is always worse gets (almost) no weight
    worse = torch.stack([p[0], p[0] * 0.5])
    assert em_weights(worse.log())[0][1] < 1e-3


def test_mixture_beats_its_best_member_on_held_out_names(fitted, split):
    _, val, test = split
    nll = {n: math.log(e.score(test)) for n, e in fitted.named_estimators_.items()}
    mixed = math.log(fitted.score(test))
    assert mixed < min(nll.values()), (mixed, nll)
    assert fitted.validation_nll_["mixture"] < min(
        v for k, v in fitted.validation_nll_.items() if k != "mixture"
    )
    uniform = clone(fitted).set_params(weights="uniform").fit(split[0], validation_texts=val)
    assert math.log(uniform.score(val)) >= fitted.validation_nll_["mixture"] - 1e-9


def test_score_matches_weighted_member_probabilities(fitted, split):
    test = split[2][:50]
    w = fitted.weights_
    # per text: log P_mix(text) = sum over targets of log(sum_m w_m P_m(target | context))
    corpus = fitted._encode(test)
    per_member = [-e._token_nll(corpus).double() for e in fitted.estimators_]
    expected = torch.log(sum(float(wi) * lp.exp() for wi, lp in zip(w, per_member)))
    per_text = torch.zeros(len(test), dtype=torch.float64).index_add_(
        0, corpus.text_index, expected
    )
    np.testing.assert_allclose(fitted.score_samples(test), per_text.numpy(), rtol=1e-9)


def test_generation_decoder_gives_the_scored_distribution(fitted, split):
    """Teacher-forcing the decoder through texts reproduces score_samples exactly."""
    for text in split[2][:5]:
        ids = fitted.tokenizer_.encode(text)
        decoder = fitted._decoder()
        total = 0.0
        with torch.no_grad():
            logits = decoder.start(torch.empty(0, dtype=torch.long), 1)
            for token in [*ids.tolist(), 0]:
                total += float(torch.log_softmax(logits.double(), -1)[0, token])
                logits = decoder.advance(torch.tensor([token]))
        assert math.isclose(total, fitted.score_samples([text])[0], rel_tol=1e-5)
    samples = fitted.generate(20, random_state=0)
    assert samples == fitted.generate(20, random_state=0) and len(set(samples)) > 10


def test_save_load_round_trip_and_nested_mixture(tmp_path, split):
    train, val, test = split
    inner = CharMixture([("a", CharNGram(order=2)), ("b", CharNGram(order=4))])
    mix = CharMixture([("inner", inner), ("mlp", tiny_mlp())], random_state=0)
    mix.fit(train[:1000], validation_texts=val[:200])
    path = tmp_path / "mix.cz"
    mix.save(path)
    loaded = charzoo.load(path)
    assert loaded.score(test) == mix.score(test)
    assert loaded.generate(5, random_state=3) == mix.generate(5, random_state=3)
    assert loaded.get_params()["inner__b__order"] == 4
    assert loaded.estimators[1][1].random_state is None  # the spec, not the fitted clone
    np.testing.assert_array_equal(loaded.weights_, mix.weights_)
    payload = torch.load(path, weights_only=True)
    assert payload["model"] == "mixture" and len(payload["members"]) == 2
    assert any(k.startswith("members.inner.members.b.") for k in payload["state_dict"])


def test_stream_mode_and_unicode(split):
    text = "".join(load_names()[:600])
    mix = CharMixture([("n3", CharNGram(order=3)), ("n1", CharNGram(order=1))], random_state=0)
    mix.fit([text])
    assert mix.mode_ == "stream" and all(e.mode_ == "stream" for e in mix.estimators_)
    assert len(mix.generate(1, prefix="ann", max_length=20)[0]) == 23
    russian = ["Александр", "Алексей", "Анатолий", "Андрей", "Антон", "Аркадий", "Борис"]
    uni = CharMixture([("n2", CharNGram(order=2)), ("b", CharBigram())], random_state=0)
    uni.fit(russian)
    assert math.isfinite(uni.score(["Антон"])) and uni.generate(2, prefix="А")


def test_prefit_members(split):
    train, val, test = split
    a = CharNGram(order=5).fit(train)
    b = CharNGram(order=2).fit(train)
    mix = CharMixture([("a", a), ("b", b)], prefit=True).fit(val)
    assert mix.estimators_[0] is a and mix.weights_[0] > mix.weights_[1]
    assert math.log(mix.score(test)) <= math.log(a.score(test)) + 0.01
    other = CharNGram().fit(["xyz", "zyx"])
    with pytest.raises(ValueError, match="'c' .* different vocabulary"):
        CharMixture([("a", a), ("c", other)], prefit=True).fit(val)
    with pytest.raises(ValueError, match="prefit=True but estimator 'u' is not fitted"):
        CharMixture([("a", a), ("u", CharNGram())], prefit=True).fit(val)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"estimators": []}, ValueError, "non-empty list of \\(name, estimator\\)"),
        ({"estimators": [("a", CharNGram), ("b", CharBigram())]}, TypeError, "'a' must be a"),
        ({"estimators": [("a", "ngram")]}, TypeError, "charzoo model instance"),
        ({"estimators": [("a", CharNGram()), ("a", CharBigram())]}, ValueError, "unique"),
        ({"estimators": [("a__b", CharNGram())]}, ValueError, "'a__b' is invalid"),
        ({"estimators": [("weights", CharNGram())]}, ValueError, "clashes"),
        ({"weights": [1.0]}, ValueError, "one finite number per member \\(2\\)"),
        ({"weights": [1.0, -1.0]}, ValueError, "non-negative"),
        ({"weights": "best"}, ValueError, "weights"),
        ({"validation_fraction": 1.5}, ValueError, "validation_fraction"),
        (
            {"estimators": [("a", CharNGram(mode="stream")), ("b", CharBigram())]},
            ValueError,
            "'a' has mode='stream' but the mixture models document texts",
        ),
    ],
)
def test_bad_parameters_raise_clearly(params, error, match):
    base = {"estimators": [("a", CharNGram()), ("b", CharBigram())]}
    with pytest.raises(error, match=match):
        CharMixture(**{**base, **params}).fit(["anna", "bob", "carl", "dora"])


def test_document_mode_needs_held_out_texts():
    with pytest.raises(ValueError, match="needs held-out texts"):
        CharMixture(mode="document").fit(["anna"])
    mix = CharMixture(mode="document", weights="uniform").fit(["anna"])
    np.testing.assert_allclose(mix.weights_, [0.5, 0.5])


def test_parallel_fit_matches_sequential(split):
    train, val, test = split
    spec = [("a", CharNGram(order=4)), ("b", tiny_mlp())]
    one = CharMixture(spec, random_state=0).fit(train[:800], validation_texts=val[:100])
    two = CharMixture(spec, n_jobs=2, random_state=0).fit(train[:800], validation_texts=val[:100])
    assert one.score(test[:100]) == pytest.approx(two.score(test[:100]), rel=1e-6)


def test_members_from_specs():
    members = members_from_specs(["ngram:order=5,smoothing=witten_bell", "ngram", "bigram"])
    assert [n for n, _ in members] == ["ngram", "ngram-2", "bigram"]
    assert members[0][1].order == 5 and members[0][1].smoothing == "witten_bell"
    with pytest.raises(ValueError, match="has no parameter 'ordr'"):
        members_from_specs(["ngram:ordr=5"])
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        members_from_specs(["nope"])


def test_cli_fit_mixture_with_members(tmp_path, capsys):
    data = tmp_path / "names.txt"
    data.write_text("\n".join(load_names()[:800]), encoding="utf-8")
    out = tmp_path / "mix.cz"
    args = ["fit", "mixture", str(data), "-o", str(out), "--seed", "0", "-q"]
    assert main([*args, "--member", "ngram:order=4", "--member", "bigram"]) == 0
    model = charzoo.load(out)
    assert [n for n, _ in model.estimators] == ["ngram", "bigram"]
    assert model.estimators[0][1].order == 4
    assert main(["score", str(out), str(data)]) == 0
    assert "bits per char" in capsys.readouterr().out
    assert main(["fit", "mlp", str(data), "-o", str(out), "--member", "ngram"]) == 1
    assert "--member applies to the mixture model" in capsys.readouterr().err


def test_benchmark_smoke_runs():
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "benchmarks/mixture.py", "--smoke", "--threads", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["kind"] for r in records] == ["member", "member", "mixture"]
    mixture = records[-1]
    assert mixture["members"] == ["ngram5", "gru"] and len(mixture["weights"]) == 2
    assert math.isfinite(mixture["test_nll"]) and mixture["fit_seconds"] > 0
