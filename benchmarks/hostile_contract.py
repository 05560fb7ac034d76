"""Hostile cases of issue 26 for ``benchmarks/hostile.py``: numpy-typed hyperparameters through
save/load, ``Fraction`` values, structural ``set_params`` after fit, warm starts across a
structural change and fits in threads (kind ``"contract"``)."""

from __future__ import annotations

import fractions
import os
import threading

import numpy as np


def _numpy(value: object) -> object:
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, int):
        return np.int64(value)
    if isinstance(value, float):
        return np.float32(value)
    return value


def _structural_change(model) -> dict | None:
    """A valid change of a structural int hyperparameter of ``model`` (doubled, else plus
    one), or
    None when it has none."""
    from sklearn.base import clone

    from charzoo.fitted_state import training_params

    skip = training_params(type(model))
    for key, value in sorted(model.get_params(deep=False).items()):
        if key in skip or not isinstance(value, int) or isinstance(value, bool):
            continue
        for new in (2 * value, value + 1):
            try:
                clone(model).set_params(**{key: new})._validate_params(device=False)
            except (TypeError, ValueError):
                continue
            if new != value:
                return {key: new}
    return None


def contract_cases(name: str, Case: type, SMALL: list[str]) -> list:  # noqa: N803
    """The issue-26 cases of one registered model (``Case`` and ``SMALL`` from hostile.py)."""
    cases: list[Case] = []

    def add(case_id, run, check=None, mention=(), must_succeed=False):
        cases.append(
            Case(f"{name}/{case_id}", "contract", run, check, tuple(mention), must_succeed, name)
        )

    def numpy_round_trip(ctx):
        import charzoo

        model = ctx.tiny(name)
        model.set_params(**{k: _numpy(v) for k, v in model.get_params(deep=False).items()})
        model.fit(SMALL)
        path = os.path.join(ctx.tmp, f"{name}-numpy.cz")
        model.save(path)
        loaded = charzoo.load(path)
        same = all(
            loaded.get_params(deep=False)[k] == v
            for k, v in model.get_params(deep=False).items()
            if k != "estimators"
        )
        return same and np.array_equal(loaded.score_samples(SMALL), model.score_samples(SMALL))

    add("numpy-params-save-load", numpy_round_trip, check=bool, must_succeed=True)

    def fraction(ctx):
        model = ctx.tiny(name)
        floats = [k for k, v in model.get_params(deep=False).items() if isinstance(v, float)]
        key = floats[0] if floats else "random_state"
        return model.set_params(**{key: fractions.Fraction(1, 3)}).fit(SMALL)

    add("fraction-param", fraction, mention=("parameter",))

    def structural_then(action):
        def run(ctx):
            model = ctx.tiny(name).fit(SMALL)
            model.set_params(**_structural_change(model))
            if action == "save":
                return model.save(os.path.join(ctx.tmp, f"{name}-drift.cz"))
            if action == "warm":
                return model.set_params(warm_start=True).fit(SMALL)
            return getattr(model, action)(SMALL[:3]) if action == "score" else model.generate(2)

        return run

    from charzoo import create_model

    default = create_model(name)
    if _structural_change(default) is not None:
        for action in ("score", "generate", "save"):
            add(f"structural-change-{action}", structural_then(action), mention=("call fit",))
    if _structural_change(default) is not None and "warm_start" in _params(name):
        add("structural-change-warm-start", structural_then("warm"), mention=("warm_start",))

    def threads(ctx):
        results: list = [None, None]

        def fit(i: int) -> None:
            results[i] = ctx.tiny(name).fit(SMALL).score_samples(SMALL)

        workers = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return np.array_equal(results[0], results[1])

    add("threaded-fits-identical", threads, check=bool, must_succeed=True)
    return cases


def _params(name: str) -> dict:
    from charzoo import create_model

    return create_model(name).get_params(deep=False)
