"""Red-team harness: hostile or awkward input against every registered model.

Each case runs one API call (or one CLI command) the way a new user or an attacker would, and
its outcome is classified:

- ``OK``: a clear ``ValueError``/``TypeError``/charzoo error raised by charzoo's own checks
  (or scikit-learn's parameter validation) whose message names the problem, or a correct result;
- ``SILENT``: no error but a wrong answer (or no error where one is required);
- ``RAW``: an internal error (raised inside torch/numpy, or an exception type a user cannot act
  on, or a message that does not name the problem);
- ``REFUSED``: a valid request refused (with a clear message) where a result is required;
- ``HANG`` / ``CRASH``: the worker ran past the time limit / died.

Run every case, one worker process at a time (a case that crashes or hangs only costs its
worker), under an address-space cap so that an allocation of terabytes fails instead of
swapping::

    OMP_NUM_THREADS=1 flock /tmp/charzoo-bench.lock python benchmarks/hostile.py \
        --out benchmarks/results/hostile.jsonl

Results: ``benchmarks/results/hostile_before.jsonl`` (landed tree e9e60af: 398 OK, 302 SILENT,
387 RAW, 13 HANG of 1,100) and ``hostile_after.jsonl`` (this tree: 1,100 OK; big-but-legal
fits, e.g. ``CharTinyCNN(block_size=10**6)``, need up to ~100 s on a loaded machine, so the
after run re-ran its 11 timed-out or since-fixed cases with ``--ids ... --timeout 120``).

The issue-26 contract cases (kind ``contract``, ``benchmarks/hostile_contract.py``: numpy
hyperparameters through save/load, ``Fraction`` values, structural ``set_params`` before
scoring, generation, save and warm start, threaded fits) were run with ``--ids`` set to their
88 ids: ``hostile_contract_before.jsonl`` (landed tree d4522b6: 6 OK, 54 SILENT, 18 RAW,
10 REFUSED) and ``hostile_contract_after.jsonl`` (88 OK).

The case table is also run in-process by ``tests/test_hostile.py`` (every case must be OK).
Only the public API (``charzoo.create_model``, ``charzoo.load``, ``charzoo.testing.make_tiny``)
is used, so the same script measures an older tree (put it first on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

SMALL = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn"] * 4
STREAM = "the quick brown fox jumps over the lazy dog. " * 40
TINY = {"max_steps": 3, "batch_size": 8, "eval_interval": 3, "random_state": 0, "device": "cpu"}
CLEAR_TYPES = ("ValueError", "TypeError", "NotFittedError", "FileNotFoundError")
INTERNAL_PATHS = (os.sep + "torch" + os.sep, os.sep + "numpy" + os.sep)
CLI_RAW_MARKERS = (
    "Traceback",
    "Torch not compiled",
    "not compiled with",
    "DefaultCPUAllocator",
    "object is not callable",
    "Overflow",
    "overflow",
    "probability tensor",
    "random_ expects",
    "pickled Python objects",
    "UnicodeEncodeError",
    "can't allocate",
    "cannot allocate",
)


@dataclass
class Case:
    """One hostile call. ``run(ctx)`` returns a value that ``check`` must accept (when no
    error is raised); ``mention`` lists words of which one must appear in an error message."""

    id: str
    kind: str  # the class of input
    run: Callable
    check: Callable | None = None  # None: an error is required
    mention: tuple[str, ...] = ()
    must_succeed: bool = False
    model: str | None = None
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------- context
class Context:
    """Tiny fitted models and saved files, built lazily and shared by the cases of a model."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self._cache: dict = {}

    def tiny(self, name: str, **params):
        from charzoo import create_model
        from charzoo.testing import make_tiny

        model = make_tiny(create_model(name))  # at the size the model's class declares
        names = set(model.get_params(deep=False))
        base = {k: v for k, v in TINY.items() if k in names}
        return model.set_params(**{**base, **params})

    def fitted(self, name: str, stream: bool = False):
        key = (name, stream)
        if key not in self._cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._cache[key] = self.tiny(name).fit([STREAM] if stream else SMALL)
        return self._cache[key]

    def saved(self, name: str) -> str:
        path = os.path.join(self.tmp, f"{name}.cz")
        if not os.path.exists(path):
            self.fitted(name).save(path)
        return path

    def file(self, name: str, suffix: str, data: bytes) -> str:
        path = os.path.join(self.tmp, f"{name}-{suffix}.cz")
        with open(path, "wb") as handle:
            handle.write(data)
        return path


def _payload(path: str) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _tensor_checksum(state: dict) -> str:
    """The landed (format 1) checksum: SHA-256 over the tensors only (an attacker can
    recompute it, so a format-1 file must also be validated field by field)."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key]
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _write(ctx: Context, name: str, suffix: str, payload: dict) -> str:
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return ctx.file(name, suffix, buffer.getvalue())


def _crafted_v1(ctx: Context, name: str, suffix: str, edit: Callable[[dict], None]) -> str:
    """A format-1 file with ``edit`` applied and a valid (recomputed) format-1 checksum."""
    payload = _payload(ctx.saved(name))
    payload = {k: v for k, v in payload.items() if k in _V1_KEYS}
    payload["format_version"] = 1
    edit(payload)
    payload["checksum"] = _tensor_checksum(payload["state_dict"])
    return _write(ctx, name, suffix, payload)


_V1_KEYS = (
    "format",
    "format_version",
    "charzoo_version",
    "model",
    "class",
    "package",
    "package_version",
    "params",
    "tokenizer",
    "fitted",
    "state_dict",
)


def _edit_json(payload: dict, key: str, fn: Callable[[dict], None]) -> None:
    data = json.loads(payload[key])
    fn(data)
    payload[key] = json.dumps(data)


def _load_and_use(path: str, **kwargs):
    from charzoo import load

    model = load(path, **kwargs)
    return model, model.score(SMALL[:3]), model.generate(2, max_length=10)


# ----------------------------------------------------------------------------------- checks
def _finite(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value >= 1


def _texts(n: int) -> Callable:
    def check(result) -> bool:
        return isinstance(result, list) and len(result) == n and all(type(t) is str for t in result)

    return check


def _fitted_like_list(ctx: Context, name: str) -> Callable:
    def check(model) -> bool:
        reference = ctx.fitted(name)
        return (
            model.mode_ == reference.mode_
            and model.tokenizer_.chars == reference.tokenizer_.chars
            and math.isclose(model.score(SMALL[:5]), reference.score(SMALL[:5]), rel_tol=1e-6)
        )

    return check


def _same_score(ctx: Context, name: str) -> Callable:
    def check(score) -> bool:
        return math.isclose(score, ctx.fitted(name).score(SMALL[:5]), rel_tol=1e-9)

    return check


# ------------------------------------------------------------------------------------ cases
def _int_params(name: str) -> list[tuple[str, type]]:
    """Parameters constrained to numbers (the bool-rejection cases)."""
    from numbers import Integral, Real

    from sklearn.utils._param_validation import Interval, Options

    from charzoo import get_model_class

    cls = get_model_class(name)
    found = []
    for key, constraints in sorted(cls._all_parameter_constraints().items()):
        if any(c == "boolean" or c is bool for c in constraints):
            continue
        for c in constraints:
            if isinstance(c, (Interval, Options)) and c.type in (Integral, Real, int, float):
                found.append((key, c.type))
                break
    return found


def _is_neural(name: str) -> bool:
    from charzoo import get_model_class

    return "max_steps" in get_model_class(name)._get_param_names()


SIZE_VALUES = {
    "n_embd": 10**6,
    "n_hidden": 10**6,
    "n_channels": 10**6,
    "n_layers": 10**6,
    "batch_size": 10**9,
    "block_size": 10**6,
}


def model_cases(name: str) -> list[Case]:
    """Every case for one registered model."""
    cases: list[Case] = []

    def add(case_id, kind, run, check=None, mention=(), must_succeed=False):
        cases.append(
            Case(f"{name}/{case_id}", kind, run, check, tuple(mention), must_succeed, name)
        )

    # containers ---------------------------------------------------------------------------
    def df_one(ctx):
        import pandas as pd

        return ctx.tiny(name).fit(pd.DataFrame({"name": SMALL}))

    def df_two(ctx):
        import pandas as pd

        return ctx.tiny(name).fit(pd.DataFrame({"name": SMALL, "other": SMALL}))

    def df_score(ctx):
        import pandas as pd

        return ctx.fitted(name).score(pd.DataFrame({"name": SMALL[:5]}))

    def series(ctx):
        import pandas as pd

        return ctx.fitted(name).score(pd.Series(SMALL[:5]))

    def array_col(ctx):
        import numpy as np

        return ctx.fitted(name).score(np.array(SMALL[:5], dtype=object).reshape(-1, 1))

    def array_two(ctx):
        import numpy as np

        return ctx.fitted(name).score(np.array([SMALL[:5], SMALL[:5]], dtype=object).T)

    add("dataframe-one-column-fit", "containers", df_one, _fitted_like_list_lazy(name))
    add("dataframe-two-columns-fit", "containers", df_two, None, ("column",))
    add("dataframe-one-column-score", "containers", df_score, _same_score_lazy(name))
    add("series-score", "containers", series, _same_score_lazy(name))
    add("array-one-column-score", "containers", array_col, _same_score_lazy(name))
    add("array-two-columns-score", "containers", array_two, None, ("column", "1-d", "2-d"))
    add(
        "nested-lists-fit",
        "containers",
        lambda ctx: ctx.tiny(name).fit([["ab"], ["cd"]]),
        None,
        ("texts",),
    )

    # bool where a number is meant -----------------------------------------------------------
    for key, _ in _int_params(name):
        add(
            f"bool-{key}",
            "bool",
            lambda ctx, key=key: ctx.tiny(name, **{key: True}).fit(SMALL),
            None,
            (key,),
        )

    # devices --------------------------------------------------------------------------------
    for device in ("cuda", "mps", "meta", "cuda:7", "bogus", "cpu:1x"):
        add(
            f"device-{device}",
            "device",
            lambda ctx, device=device: ctx.tiny(name, device=device).fit(SMALL),
            None,
            ("device",),
        )
    add(
        "load-device-bogus",
        "device",
        lambda ctx: _load_and_use(ctx.saved(name), device="bogus"),
        None,
        ("device",),
    )
    add(
        "load-device-meta",
        "device",
        lambda ctx: _load_and_use(ctx.saved(name), device="meta"),
        None,
        ("device",),
    )

    # lone surrogates ------------------------------------------------------------------------
    add(
        "surrogate-fit",
        "unicode",
        lambda ctx: ctx.tiny(name).fit(["ab\ud800c", *SMALL]),
        None,
        ("surrogate",),
    )
    add(
        "surrogate-score",
        "unicode",
        lambda ctx: ctx.fitted(name).score(["em\udc00ma"]),
        None,
        ("surrogate",),
    )
    add(
        "surrogate-prefix",
        "unicode",
        lambda ctx: ctx.fitted(name).generate(2, prefix="e\ud800"),
        None,
        ("surrogate",),
    )
    add(
        "surrogate-validation",
        "unicode",
        lambda ctx: ctx.tiny(name).fit(SMALL, validation_texts=["a\udfffb"]),
        None,
        ("surrogate",),
    )

    # generation -----------------------------------------------------------------------------
    gen = ctx_gen = None  # noqa: F841 (readability)
    for label, kwargs, n in [
        ("huge-max-length", {"max_length": 10**9}, 1),
        ("huge-max-length-4", {"max_length": 10**8}, 4),
        ("temperature-1e-40", {"temperature": 1e-40, "max_length": 20}, 3),
        ("temperature-5e-324", {"temperature": 5e-324, "max_length": 20}, 3),
        ("temperature-1e300", {"temperature": 1e300, "max_length": 20}, 3),
        ("temperature-1e-300-top-p", {"temperature": 1e-300, "top_p": 0.5, "max_length": 20}, 3),
    ]:
        add(
            f"generate-{label}",
            "generate",
            lambda ctx, kwargs=kwargs, n=n: ctx.fitted(name).generate(n, **kwargs),
            _texts(n),
            must_succeed=True,
        )
    for label, kwargs in [
        ("temperature-1e300", {"temperature": 1e300}),
        ("temperature-1e-40", {"temperature": 1e-40}),
    ]:
        add(
            f"generate-stream-{label}",
            "generate",
            lambda ctx, kwargs=kwargs: ctx.fitted(name, stream=True).generate(
                2, max_length=30, **kwargs
            ),
            _texts(2),
            must_succeed=True,
        )
    for seed in (2**64, -1, 2**70, 1.5):
        add(
            f"generate-random-state-{seed}",
            "generate",
            lambda ctx, seed=seed: ctx.fitted(name).generate(2, random_state=seed),
            None,
            ("random_state",),
        )
    for label, kwargs in [
        ("n-true", {"n": True}),
        ("top-k-true", {"top_k": True}),
        ("max-length-float", {"max_length": 3.5}),
        ("temperature-nan", {"temperature": float("nan")}),
    ]:
        add(
            f"generate-{label}",
            "generate",
            lambda ctx, kwargs=kwargs: ctx.fitted(name).generate(**{"n": 2, **kwargs}),
            None,
            (next(iter(kwargs)),),
        )

    # fit arguments ----------------------------------------------------------------------------
    add(
        "fit-random-state-2**64",
        "fit",
        lambda ctx: ctx.tiny(name, random_state=2**64).fit(SMALL),
        None,
        ("random_state",),
    )
    add(
        "fit-one-char",
        "fit",
        lambda ctx: _fit_then(ctx.tiny(name), ["a"]),
        _usable,
    )
    add(
        "fit-two-texts",
        "fit",
        lambda ctx: _fit_then(ctx.tiny(name), ["ab", "cd"]),
        _usable,
    )
    add(
        "fit-empty-and-one",
        "fit",
        lambda ctx: _fit_then(ctx.tiny(name), ["", "b"]),
        _usable,
    )
    if _is_neural(name):
        add(
            "fit-validation-0.99",
            "fit",
            lambda ctx: _fit_then(ctx.tiny(name, validation_fraction=0.99), ["ab", "cd"]),
            _usable,
        )
        add(
            "fit-callbacks-int",
            "fit",
            lambda ctx: ctx.tiny(name, callbacks=[1]).fit(SMALL),
            None,
            ("callbacks",),
        )
        add(
            "fit-callbacks-str",
            "fit",
            lambda ctx: ctx.tiny(name, callbacks=["print"]).fit(SMALL),
            None,
            ("callbacks",),
        )
        add(
            "divergence-score-finite",
            "divergence",
            lambda ctx: _diverge(ctx, name),
            _finite,
            must_succeed=True,
        )
        add(
            "interrupt-before-step-1",
            "interrupt",
            lambda ctx: _interrupt_first_step(ctx, name),
            lambda result: result == "not fitted",
        )
        from charzoo import get_model_class

        cls = get_model_class(name)
        params = cls._get_param_names()
        # the size parameters are the ones the model's class shrinks for tests, whatever
        # their names, plus the batch and context sizes every model understands
        declared = (getattr(cls, "_test_params", None) or {}).items()  # older trees: none
        sizes = {
            k: SIZE_VALUES.get(k, 10**6)
            for k, v in declared
            if isinstance(v, int) and not isinstance(v, bool)
        }
        sizes.update({k: v for k, v in SIZE_VALUES.items() if k in ("batch_size", "block_size")})
        for key, value in sizes.items():
            if key in params:
                add(
                    f"size-{key}-{value:.0e}",
                    "size",
                    lambda ctx, key=key, value=value: _fit_then(
                        ctx.tiny(name, **{key: value}), SMALL
                    ),
                    _usable,
                    (key, "memory", "GB", "TB"),
                )

    # files ----------------------------------------------------------------------------------
    def random_bytes(ctx):
        return _load_and_use(ctx.file(name, "random", os.urandom(4096)))

    def text_file(ctx):
        return _load_and_use(ctx.file(name, "text", b"emma\nolivia\nava\n" * 50))

    def empty(ctx):
        return _load_and_use(ctx.file(name, "empty", b""))

    def truncated(ctx):
        data = open(ctx.saved(name), "rb").read()
        return _load_and_use(ctx.file(name, "truncated", data[: len(data) // 2]))

    add("file-random-bytes", "files", random_bytes, None, ("not a charzoo",))
    add("file-text", "files", text_file, None, ("not a charzoo",))
    add("file-empty", "files", empty, None, ("not a charzoo", "empty"))
    add("file-truncated", "files", truncated, None, ("corrupt", "truncated", "not a charzoo"))
    for fraction in (0.3, 0.5, 0.7, 0.9):

        def flip(ctx, fraction=fraction):
            data = bytearray(open(ctx.saved(name), "rb").read())
            data[int(len(data) * fraction)] ^= 0x10
            model, score, _ = _load_and_use(ctx.file(name, f"flip{fraction}", bytes(data)))
            return score

        add(
            f"file-bit-flip-{fraction}",
            "files",
            flip,
            _same_score_lazy(name, SMALL[:3]),
            ("corrupt", "not a charzoo", "checksum"),
        )

    def swap_tokenizer(ctx):  # same format and checksum as written: only the tokenizer changed
        payload = _payload(ctx.saved(name))
        chars = json.loads(payload["tokenizer"])
        key = next(k for k in chars if isinstance(chars[k], list))
        chars[key][0], chars[key][1] = chars[key][1], chars[key][0]
        payload["tokenizer"] = json.dumps(chars)
        return _load_and_use(_write(ctx, name, "swap", payload))

    add("file-tokenizer-swap", "files", swap_tokenizer, None, ("checksum", "corrupt"))

    def params_edit(ctx):  # a hyperparameter edited, checksum as written
        payload = _payload(ctx.saved(name))
        _edit_json(payload, "params", lambda p: p.update(random_state=1))
        return _load_and_use(_write(ctx, name, "params-edit", payload))

    add("file-params-edit", "files", params_edit, None, ("checksum", "corrupt"))

    def fitted_edit(ctx):
        payload = _payload(ctx.saved(name))
        _edit_json(payload, "fitted", lambda p: p.update(max_text_length_=3))
        return _load_and_use(_write(ctx, name, "fitted-edit", payload))

    add("file-fitted-edit", "files", fitted_edit, None, ("checksum", "corrupt"))

    def version_edit(ctx):
        payload = _payload(ctx.saved(name))
        payload["format_version"] = 99
        return _load_and_use(_write(ctx, name, "v99", payload))

    add("file-format-99", "files", version_edit, None, ("upgrade",))

    # format-1 files with a recomputed (valid) checksum: field validation must refuse them
    def v1(edit, suffix):
        return lambda ctx: _load_and_use(_crafted_v1(ctx, name, suffix, edit))

    add(
        "file-v1-unchanged-loads",
        "files",
        lambda ctx: _load_and_use(_crafted_v1(ctx, name, "v1", lambda p: None))[1],
        _same_score_lazy(name, SMALL[:3]),
        must_succeed=True,
    )
    add(
        "file-v1-fitted-shadows-method",
        "files",
        v1(lambda p: _edit_json(p, "fitted", lambda f: f.update(score=1.0)), "shadow"),
        None,
        ("score", "fitted"),
    )
    add(
        "file-v1-fitted-unknown",
        "files",
        v1(lambda p: _edit_json(p, "fitted", lambda f: f.update(module_=1)), "unknown"),
        None,
        ("module_", "fitted"),
    )
    add(
        "file-v1-params-max-steps",
        "files",
        v1(lambda p: _edit_json(p, "params", lambda f: f.update(max_steps=-5)), "steps"),
        None,
        ("max_steps",),
    )
    add(
        "file-v1-params-mode",
        "files",
        v1(lambda p: _edit_json(p, "params", lambda f: f.update(mode="bogus")), "mode"),
        None,
        ("mode",),
    )
    add(
        "file-v1-params-bool",
        "files",
        v1(lambda p: _edit_json(p, "params", lambda f: f.update(random_state=True)), "rsbool"),
        None,
        ("random_state",),
    )
    add(
        "file-v1-fitted-mode",
        "files",
        v1(lambda p: _edit_json(p, "fitted", lambda f: f.update(mode_="bogus")), "fmode"),
        None,
        ("mode_",),
    )
    add(
        "file-v1-max-text-length",
        "files",
        v1(
            lambda p: _edit_json(p, "fitted", lambda f: f.update(max_text_length_=10**12)),
            "maxlen",
        ),
        None,
        ("max_text_length_",),
    )

    def nan_weights(payload):
        state = payload["state_dict"]
        key = next(k for k, v in state.items() if v.is_floating_point() and v.numel())
        state[key] = state[key].clone()
        state[key].view(-1)[0] = float("nan")

    add("file-v1-nan-weights", "files", v1(nan_weights, "nan"), None, ("nan", "non-finite"))

    def inf_weights(payload):
        state = payload["state_dict"]
        key = next(k for k, v in state.items() if v.is_floating_point() and v.numel())
        state[key] = state[key].clone()
        state[key].view(-1)[0] = float("inf")

    add("file-v1-inf-weights", "files", v1(inf_weights, "inf"), None, ("inf", "non-finite"))

    def two_char_vocab(payload):
        tokenizer = json.loads(payload["tokenizer"])
        key = next(k for k in tokenizer if isinstance(tokenizer[k], list))
        tokenizer[key][0] = "ab"
        payload["tokenizer"] = json.dumps(tokenizer)

    add("file-v1-vocab-two-chars", "files", v1(two_char_vocab, "vocab"), None, ("character",))

    def dup_vocab(payload):
        tokenizer = json.loads(payload["tokenizer"])
        key = next(k for k in tokenizer if isinstance(tokenizer[k], list))
        tokenizer[key][1] = tokenizer[key][0]
        payload["tokenizer"] = json.dumps(tokenizer)

    add("file-v1-vocab-duplicate", "files", v1(dup_vocab, "dup"), None, ("duplicate", "twice"))

    def extra_tensor(payload):
        import torch

        payload["state_dict"]["evil"] = torch.zeros(3)

    add("file-v1-extra-tensor", "files", v1(extra_tensor, "extra"), None, ("evil", "fit"))

    def params_not_json(payload):
        payload["params"] = "{not json"

    add("file-v1-params-not-json", "files", v1(params_not_json, "pjson"), None, ("params",))
    return cases


def _fitted_like_list_lazy(name: str) -> Callable:
    return lambda model, _ctx=None: _CHECK_CTX and _fitted_like_list(_CHECK_CTX[0], name)(model)


def _same_score_lazy(name: str, texts: list[str] | None = None) -> Callable:
    texts = texts or SMALL[:5]

    def check(score) -> bool:
        reference = _CHECK_CTX[0].fitted(name).score(texts)
        return isinstance(score, float) and math.isclose(score, reference, rel_tol=1e-9)

    return check


_CHECK_CTX: list[Context] = []  # the context the checks compare against (set by run_case)


def _fit_then(model, texts):
    """Fit, then use the model: a fit that succeeds must give a usable model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(texts)
    return model.score(texts), model.generate(2, max_length=10)


def _usable(result) -> bool:
    score, texts = result
    return _finite(score) and _texts(2)(texts)


def _diverge(ctx: Context, name: str):
    model = ctx.tiny(name, learning_rate=1e6, max_steps=20, eval_interval=None, grad_clip=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(SMALL)
    return model.score(SMALL[:5])


def _interrupt_first_step(ctx: Context, name: str):
    from sklearn.exceptions import NotFittedError

    model = ctx.tiny(name)
    original = model._training_task

    class Interrupting:
        def __init__(self, task):
            self.task = task

        def train_loss(self, module):
            raise KeyboardInterrupt

        def eval_loss(self, module):
            return self.task.eval_loss(module)

    model._training_task = lambda *a, **k: Interrupting(original(*a, **k))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(SMALL)
    except KeyboardInterrupt:
        pass
    del model._training_task
    try:
        model.score(SMALL[:3])
    except NotFittedError:
        return "not fitted"
    return "fitted with untrained weights"


# -------------------------------------------------------------------------------------- CLI
def cli_cases() -> list[Case]:
    cases = []

    def cli(args, files=None):
        def run(ctx):
            argv = [a.replace("{tmp}", ctx.tmp) for a in args]
            for key, data in (files or {}).items():
                ctx.file("cli", key, data)
            if any("{model}" in a for a in args):
                argv = [a.replace("{model}", ctx.saved("mlp")) for a in argv]
            proc = subprocess.run(  # cwd: the tree on PYTHONPATH is the one measured
                [sys.executable, "-m", "charzoo", *argv],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=ctx.tmp,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            return proc.returncode, proc.stderr

        return run

    def add(case_id, args, files=None, expect_error=True):
        cases.append(
            Case(f"cli/{case_id}", "cli", cli(args, files), None, (), extra={"error": expect_error})
        )

    fit = ["fit", "mlp", "dinos", "-o", "{tmp}/cli-out.cz", "-q", "--max-steps", "3"]
    add("fit-device-cuda", [*fit, "--param", "device=cuda"])
    add("fit-device-bogus", [*fit, "--param", "device=bogus"])
    add("fit-bool-n-embd", [*fit, "--param", "n_embd=true"])
    add("fit-seed-overflow", [*fit, "--seed", str(2**64)])
    add("fit-huge-n-embd", [*fit, "--param", "n_embd=100000000"])
    add("fit-callbacks-int", [*fit, "--param", "callbacks=[1]"])
    add("generate-random-bytes", ["generate", "{tmp}/cli-random.cz"], {"random": os.urandom(999)})
    add("generate-text-file", ["generate", "{tmp}/cli-text.cz"], {"text": b"hello\n" * 20})
    add("generate-seed-overflow", ["generate", "{model}", "--seed", str(2**64)])
    add("generate-temperature-tiny", ["generate", "{model}", "--temperature", "1e-40"], None, False)
    add(
        "generate-huge-max-length",
        ["generate", "{model}", "--max-length", "1000000000"],
        None,
        False,
    )
    add("score-random-bytes", ["score", "{tmp}/cli-random.cz", "names"], {"random": os.urandom(99)})
    return cases


def all_cases() -> list[Case]:
    from charzoo import list_models

    try:
        from benchmarks.hostile_contract import contract_cases
    except ImportError:  # run as a script from benchmarks/
        from hostile_contract import contract_cases

    cases = []
    for name in list_models():
        cases.extend(model_cases(name))
        cases.extend(contract_cases(name, Case, SMALL))
    cases.extend(cli_cases())
    return cases


# ---------------------------------------------------------------------------- classification
def classify(case: Case, ctx: Context) -> tuple[str, str]:
    """Run ``case`` in this process and return (outcome, detail)."""
    _CHECK_CTX[:] = [ctx]
    if case.kind == "cli":
        rc, stderr = case.run(ctx)
        lines = [line for line in stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("charzoo: error:")]
        if any(marker in stderr for marker in CLI_RAW_MARKERS):
            return "RAW", stderr.strip()[-300:]
        if case.extra["error"]:
            if rc == 0:
                return "SILENT", "exit status 0"
            if len(errors) != 1:
                return "RAW", stderr.strip()[-300:]
            return "OK", errors[0]
        return ("OK", "exit 0") if rc == 0 else ("REFUSED", stderr.strip()[-300:])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.run(ctx)
    except ImportError as exc:
        return "SKIP", str(exc)
    except Exception as exc:  # noqa: BLE001 - classify everything
        return _classify_error(case, exc)
    if case.check is None:
        return "SILENT", f"no error; returned {_short(result)}"
    try:
        good = case.check(result)
    except Exception as exc:  # noqa: BLE001
        return _classify_error(case, exc)
    return ("OK", _short(result)) if good else ("SILENT", f"wrong result {_short(result)}")


def _classify_error(case: Case, exc: BaseException) -> tuple[str, str]:
    message = str(exc)
    detail = f"{type(exc).__name__}: {message[:300]}"
    names = {klass.__name__ for klass in type(exc).__mro__}
    frames = traceback.extract_tb(exc.__traceback__)
    origin = frames[-1].filename if frames else ""
    internal = any(p in origin for p in INTERNAL_PATHS)
    if not names & set(CLEAR_TYPES) or internal:
        return "RAW", detail + f" (from {origin})"
    if isinstance(exc, (IndexError, KeyError, UnicodeError)):
        return "RAW", detail
    if case.mention and not any(m.lower() in message.lower() for m in case.mention):
        return "RAW", detail + f" (message names none of {case.mention})"
    if case.must_succeed:
        return "REFUSED", detail
    return "OK", detail


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


# ---------------------------------------------------------------------------------- workers
def worker() -> None:
    """Read case ids from stdin, write one JSON result per line."""
    import resource

    cap = int(os.environ.get("HOSTILE_AS_BYTES", 8 * 2**30))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import torch

    torch.set_num_threads(1)
    cases = {c.id: c for c in all_cases()}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(tmp)
        for line in sys.stdin:
            case = cases[line.strip()]
            start = time.perf_counter()
            try:
                outcome, detail = classify(case, ctx)
            except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt escaping, ...
                outcome, detail = "RAW", f"{type(exc).__name__}: {exc}"[:300]
            seconds = time.perf_counter() - start
            print(
                json.dumps(
                    {
                        "id": case.id,
                        "kind": case.kind,
                        "outcome": outcome,
                        "detail": detail,
                        "seconds": round(seconds, 3),
                    }
                ),
                flush=True,
            )


def run_all(ids: list[str], timeout: float) -> list[dict]:
    """Run the cases in a worker process, restarting it after a crash or a hang."""
    results = []
    pending = list(ids)
    while pending:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        current = None
        try:
            while pending:
                current = pending[0]
                proc.stdin.write(current + "\n")
                proc.stdin.flush()
                line = _read_line(proc, timeout)
                if line is None:
                    raise TimeoutError
                if not line:
                    raise EOFError
                results.append(json.loads(line))
                pending.pop(0)
                print(f"{results[-1]['outcome']:8s} {current}", file=sys.stderr, flush=True)
        except TimeoutError:
            results.append({"id": current, "outcome": "HANG", "detail": f"> {timeout} s"})
            pending.pop(0)
        except EOFError:
            results.append(
                {"id": current, "outcome": "CRASH", "detail": f"worker exit {proc.poll()}"}
            )
            pending.pop(0)
        finally:
            proc.kill()
            proc.wait()
    return results


def _read_line(proc: subprocess.Popen, timeout: float) -> str | None:
    import select

    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return None
    return proc.stdout.readline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help="write one JSON line per case here")
    parser.add_argument("--only", default="", help="substring filter on case ids")
    parser.add_argument("--ids", default="", help="comma-separated case ids to run")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--label", default="", help="stored with the summary (e.g. the tree)")
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    wanted = set(filter(None, args.ids.split(",")))
    cases = [c for c in all_cases() if args.only in c.id and (not wanted or c.id in wanted)]
    kinds = {c.id: c.kind for c in cases}
    start = time.perf_counter()
    results = run_all([c.id for c in cases], args.timeout)
    by_kind: dict[str, Counter] = {}
    for r in results:
        r.setdefault("kind", kinds[r["id"]])  # HANG/CRASH rows come from the parent
        by_kind.setdefault(r["kind"], Counter())[r["outcome"]] += 1
    total = Counter(r["outcome"] for r in results)
    summary = {
        "summary": True,
        "label": args.label,
        "n_cases": len(results),
        "total": dict(total),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "seconds": round(time.perf_counter() - start, 1),
    }
    if args.out:
        with open(args.out, "w") as handle:
            for r in results:
                handle.write(json.dumps(r) + "\n")
            handle.write(json.dumps(summary) + "\n")
    for r in results:
        if r["outcome"] not in ("OK", "SKIP"):
            print(f"{r['outcome']:8s} {r['id']}: {r.get('detail', '')[:160]}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
