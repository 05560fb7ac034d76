"""The constraint vocabulary of charzoo.params and the ``_default_overrides`` mechanism."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from charzoo import CharBigram, CharMLP
from charzoo.models.mixture import CharMixture
from charzoo.neural import NeuralMixin
from charzoo.params import (
    Fraction,
    NonNegativeFloat,
    NonNegativeInt,
    Options,
    PositiveFloat,
    PositiveInt,
    Range,
    validate_params,
)
from charzoo.testing import check_clone_and_params, check_init_stores_params

# ------------------------------------------------------------------------------ vocabulary
CASES = [
    (PositiveInt, [1, 7, np.int64(3)], [0, -1, 1.5, "1", None]),
    (NonNegativeInt, [0, 5], [-1, 0.5]),
    (PositiveFloat, [1e-9, 3, 0.5], [0, -0.1, "1"]),
    (NonNegativeFloat, [0, 0.0, 2.5], [-1e-9]),
    (Fraction(), [0, 0.5, 1], [-0.1, 1.01]),
    (Fraction(closed="left"), [0, 0.99], [1, 1.0]),
    (Fraction(closed="right"), [1, 0.01], [0]),
    (Fraction(closed="neither"), [0.5], [0, 1]),
    (Range(int, 2, 64), [2, 64, 10], [1, 65, 2.0]),
    (Range(float, None, 0, closed="neither"), [-5, -0.1], [0, 1]),
    (Options("random", "adjacent"), ["random", "adjacent"], ["Random", 1, None]),
    (Options(2), [2, np.int64(2)], [3, "2"]),
]


@pytest.mark.parametrize(("constraint", "good", "bad"), CASES, ids=repr)
def test_each_constraint_accepts_and_rejects(constraint, good, bad):
    for value in good:
        validate_params({"p": [constraint]}, {"p": value}, "CharX")
    for value in bad:
        with pytest.raises(ValueError) as caught:
            validate_params({"p": [constraint]}, {"p": value}, "CharX")
        message = str(caught.value)
        assert message.startswith("The 'p' parameter of CharX must be ")
        assert f"Got {value!r} instead" in message
        assert str(constraint) in message


def test_messages_read_as_the_accepted_values():
    assert str(PositiveInt) == "an int in the range [1, inf)"
    assert str(Fraction(closed="left")) == "a float in the range [0.0, 1.0)"
    assert str(Options("a", "b")) == "one of 'a', 'b'"  # in the order written, every time
    assert repr(PositiveInt) == "Range(int, 1, None, closed='left')"
    assert repr(Options("a", "b")) == "Options('a', 'b')"
    with pytest.raises(ValueError, match=r"'norm' parameter of CharX must be one of 'layer', "):
        validate_params({"norm": [Options("layer", "rms"), None]}, {"norm": "batch"}, "CharX")


def test_none_and_bools():
    validate_params({"p": [PositiveInt, None]}, {"p": None}, "CharX")
    with pytest.raises(TypeError, match=r"'p' parameter of CharX must be a number, not the bool"):
        validate_params({"p": [PositiveInt]}, {"p": True}, "CharX")
    with pytest.raises(TypeError, match="not the bool"):
        validate_params({"p": [Options(1, 2)]}, {"p": True}, "CharX")
    validate_params({"p": [PositiveInt, "boolean"]}, {"p": True}, "CharX")
    validate_params({"p": [Options(True, False)]}, {"p": False}, "CharX")
    validate_params({"other": [PositiveInt]}, {"p": 0}, "CharX")  # no constraint: unchecked


def test_range_refuses_a_bad_declaration():
    with pytest.raises(ValueError, match="kind must be int or float"):
        Range(str, 0, 1)
    with pytest.raises(ValueError, match="closed must be one of"):
        Range(int, 0, 1, closed="open")
    with pytest.raises(ValueError, match=r"Range\(int, 1.5, None\)"):
        Range(int, 1.5)
    with pytest.raises(ValueError, match="right can't be less than left"):
        Range(float, 1, 0)
    with pytest.raises(ValueError, match="at least one value"):
        Options()


def test_a_model_names_the_bad_parameter_and_value():
    with pytest.raises(ValueError, match=r"'n_embd' parameter of CharMLP .* Got 0 instead"):
        CharMLP(n_embd=0).fit(["abc", "bca"])
    with pytest.raises(ValueError, match=r"'lr_schedule' parameter of CharMLP must be one of"):
        CharMLP(lr_schedule="linear").fit(["abc", "bca"])


# ---------------------------------------------------------------------- default overrides
class SmallMLP(CharMLP):
    """A CharMLP with smaller defaults (own and inherited)."""

    _default_overrides = {"n_hidden": 16, "max_steps": 7}


class SmallerMLP(SmallMLP):
    _default_overrides = {"max_steps": 3, "block_size": 2}


class ExtraMLP(SmallMLP):
    _parameter_constraints = {"extra": [PositiveInt]}
    _default_overrides = {"batch_size": 4}

    def __init__(self, *, extra: int = 1, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.extra = extra


class ForwardingMLP(CharMLP):
    """The old style (re-declare and forward) still works and wins over the base's override."""

    def __init__(self, *, max_steps: int = 9, **kwargs: object) -> None:
        super().__init__(max_steps=max_steps, **kwargs)


def _defaults(cls: type) -> dict:
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()}


def test_builtin_overrides_show_in_the_signature_and_the_instance():
    shared = _defaults(NeuralMixin)
    mlp = _defaults(CharMLP)
    assert (mlp["batch_size"], mlp["learning_rate"], mlp["max_steps"]) == (128, 3e-3, 30000)
    assert mlp["warmup_steps"] == shared["warmup_steps"] == 0
    assert CharMLP().get_params()["batch_size"] == 128 and CharMLP().max_steps == 30000
    assert _defaults(CharBigram)["order"] == 2 and CharBigram().smoothing == "add_k"
    assert (
        repr(CharMLP()) == "CharMLP()" and repr(CharMLP(batch_size=64)) == "CharMLP(batch_size=64)"
    )


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (SmallMLP, {"n_hidden": 16, "max_steps": 7, "batch_size": 128, "block_size": 3}),
        (SmallerMLP, {"n_hidden": 16, "max_steps": 3, "batch_size": 128, "block_size": 2}),
        (ExtraMLP, {"n_hidden": 16, "max_steps": 7, "batch_size": 4, "extra": 1}),
        (ForwardingMLP, {"max_steps": 9, "batch_size": 128, "n_hidden": 200}),
    ],
)
def test_subclass_overrides_round_trip(cls, expected):
    defaults = _defaults(cls)
    assert {k: defaults[k] for k in expected} == expected
    assert all(p.kind is not p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())
    model = cls()
    params = model.get_params(deep=False)
    assert set(params) == set(defaults) and {k: params[k] for k in expected} == expected
    assert repr(model) == f"{cls.__name__}()"
    changed = cls(max_steps=11, n_hidden=5)
    assert (changed.max_steps, changed.n_hidden) == (11, 5)
    twin = clone(changed)
    assert twin.get_params(deep=False) == changed.get_params(deep=False)
    assert pickle.loads(pickle.dumps(changed)).get_params(deep=False)["max_steps"] == 11
    assert changed.set_params(max_steps=2).max_steps == 2
    check_init_stores_params(model)
    check_clone_and_params(model)


def test_an_override_is_what_fit_uses():
    model = SmallerMLP(random_state=0, verbose=False).fit(["anna", "bob", "carla", "dora"] * 5)
    assert model.n_steps_ == 3 and model.module_.output.in_features == 16


def test_overrides_apply_after_positional_arguments():
    class UniformMixture(CharMixture):
        _default_overrides = {"weights": "uniform"}

    members = [("a", CharBigram()), ("b", CharBigram(alpha=0.5))]
    mix = UniformMixture(members)
    assert mix.estimators is members and mix.weights == "uniform"
    assert UniformMixture(members, weights="fit").weights == "fit"
    assert list(inspect.signature(UniformMixture).parameters)[0] == "estimators"

    class PairMixture(CharMixture):  # overrides the positional parameter itself
        _default_overrides = {"estimators": None, "n_jobs": 1}

    assert PairMixture(members).estimators is members and PairMixture().estimators is None
    assert PairMixture(estimators=members).n_jobs == 1


def test_bad_overrides_fail_when_the_class_is_made():
    with pytest.raises(TypeError, match=r"_default_overrides names \['max_step'\].*max_steps"):

        class Typo(CharMLP):
            _default_overrides = {"max_step": 10}

    with pytest.raises(TypeError, match=r"\['n_extra'\], which its own __init__ declares"):

        class Clash(CharMLP):
            _default_overrides = {"n_extra": 2}

            def __init__(self, *, n_extra: int = 1, **kwargs: object) -> None:
                super().__init__(**kwargs)
                self.n_extra = n_extra

    with pytest.raises(TypeError, match="must be a dict"):

        class NotADict(CharMLP):
            _default_overrides = [("max_steps", 10)]
