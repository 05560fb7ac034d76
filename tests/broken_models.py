"""Deliberately broken third-party models: each a real model (CharMLP) with one bug of the kind
a plugin author could ship. tests/test_conformance.py installs this module as a charzoo plugin
(entry point ``broken = tests.broken_models``) and asserts that a named conformance check
catches each bug with a message saying what is wrong (:data:`CAUGHT_BY`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from charzoo import hookimpl
from charzoo.models.mlp import CharMLP
from charzoo.tokenizer import BOUNDARY_ID
from charzoo.window import WindowDecoder, window_nll


class FreeEndMarker(CharMLP):
    """Scores the end marker as certain (NLL 0): a too-good perplexity in document mode."""

    def _token_nll(self, corpus):
        nll = super()._token_nll(corpus).clone()
        nll[corpus.targets.long() == BOUNDARY_ID] = 0.0
        return nll


class HalvedNLL(CharMLP):
    """Reports half the NLL: probabilities that sum to more than 1."""

    def _token_nll(self, corpus):
        return super()._token_nll(corpus) / 2


class _CharsOnlySoftmax(torch.nn.Module):
    """Scores characters with a softmax over the character logits only (without the end id);
    the end marker keeps its full-softmax probability, so the scored mass exceeds 1."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x)

    def target_log_prob(self, x, y):
        logits = self.module(x).float()
        chars = F.log_softmax(logits[:, 1:], dim=-1).gather(1, (y - 1).clamp(min=0)[:, None])
        end = F.log_softmax(logits, dim=-1)[:, BOUNDARY_ID]
        return torch.where(y == BOUNDARY_ID, end, chars[:, 0])


class SoftmaxWithoutEndScore(CharMLP):
    """Scoring normalises the character probabilities without the end id."""

    def _token_nll(self, corpus):
        self.module_.eval()
        return window_nll(_CharsOnlySoftmax(self.module_), self._window_data(corpus))


class SoftmaxWithoutEndProba(CharMLP):
    """A plugin's own next_char_proba with the same mistake: the rows sum to more than 1."""

    def next_char_proba(self, prefixes):
        proba = super().next_char_proba(prefixes)
        chars = proba[:, 1:] / proba[:, 1:].sum(axis=1, keepdims=True)
        proba[:, 1:] = chars
        return proba


class PrefixIgnored(CharMLP):
    """generate() pastes the prefix in front of unconditioned samples."""

    def generate(self, n=10, prefix="", **kwargs):
        return [prefix + text for text in super().generate(n, "", **kwargs)]


class SortsInput(CharMLP):
    """fit() sorts and deduplicates the caller's list in place."""

    def fit(self, texts, y=None, **kwargs):
        if isinstance(texts, list):
            texts[:] = sorted(set(texts))
        return super().fit(texts, y, **kwargs)


class ValidatesInInit(CharMLP):
    """__init__ validates (and so raises on values scikit-learn passes through set_params)."""

    def __init__(self, *, n_hidden: int = 200, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if n_hidden < 1:
            raise ValueError(f"n_hidden must be >= 1, got {n_hidden}")
        self.n_hidden = n_hidden


class CoercesInInit(CharMLP):
    """__init__ coerces its argument (int(n_hidden)): a value it cannot convert raises."""

    def __init__(self, *, n_hidden: int = 200, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.n_hidden = int(n_hidden)


class DerivesInInit(CharMLP):
    """__init__ derives a value from a parameter."""

    def __init__(self, *, n_hidden: int = 200, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.n_hidden = n_hidden
        self.hidden_per_layer = n_hidden // 2


class _Scaled(torch.nn.Module):
    def __init__(self, module: torch.nn.Module, temperature: float) -> None:
        super().__init__()
        self.module, self.temperature = module, temperature

    def forward(self, x):
        return self.module(x) / self.temperature


class StreamCalibrationLost(CharMLP):
    """In stream mode fit learns a calibration temperature used by scoring and sampling; the
    model file does not keep it, so a loaded stream model scores and samples differently.

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : MLPModule
    calibration_ : float
        Stream mode only: the logits are divided by it.
    """

    def fit(self, texts, y=None, **kwargs):
        super().fit(texts, y, **kwargs)
        if self.mode_ == "stream":
            self.calibration_ = 1.5
        return self

    def _scaled(self) -> torch.nn.Module:
        temperature = getattr(self, "calibration_", 1.0) if self.mode_ == "stream" else 1.0
        return _Scaled(self.module_, temperature)

    def _token_nll(self, corpus):
        self.module_.eval()
        return window_nll(self._scaled(), self._window_data(corpus))

    def _decoder(self):
        return WindowDecoder(self._scaled(), self._context_length())


class SilentWarmStart(CharMLP):
    """A second fit continues from the first one's weights and vocabulary (warm start that
    was never asked for)."""

    def _warm_start_applies(self) -> bool:
        return hasattr(self, "module_")


class OverwritesParams(CharMLP):
    """fit() changes a hyperparameter."""

    def fit(self, texts, y=None, **kwargs):
        self.learning_rate = self.learning_rate * 0.5
        return super().fit(texts, y, **kwargs)


class PublicFitAttribute(CharMLP):
    """fit() adds a public attribute without the trailing underscore."""

    def fit(self, texts, y=None, **kwargs):
        super().fit(texts, y, **kwargs)
        self.trained_on = len(texts)
        return self


class ScoreCaches(CharMLP):
    """score() stores its result on the estimator."""

    def score(self, texts, y=None):
        self.last_score_ = super().score(texts, y)
        return self.last_score_


class Unseeded(CharMLP):
    """fit() ignores random_state."""

    def fit(self, texts, y=None, **kwargs):
        self.set_params(random_state=None)
        return super().fit(texts, y, **kwargs)


class NeverLearns(CharMLP):
    """Training leaves uniform predictions whatever the data."""

    def _fit_model(self, train, val, generator):
        super()._fit_model(train, val, generator)
        with torch.no_grad():
            for p in self.module_.parameters():
                p.zero_()


# broken model -> (the check that must catch it, a fragment of its message)
CAUGHT_BY: dict[type, tuple[str, str]] = {
    FreeEndMarker: ("check_score_is_chain_rule", "leaves out the end marker"),
    HalvedNLL: ("check_score_is_chain_rule", "chain rule of next_char_proba"),
    SoftmaxWithoutEndScore: ("check_score_is_chain_rule", "chain rule of next_char_proba"),
    SoftmaxWithoutEndProba: ("check_next_char_proba", "not 1, over the vocabulary and the end"),
    PrefixIgnored: ("check_generate_follows_proba", "does not follow next_char_proba"),
    SortsInput: ("check_fit_leaves_input_unchanged", "fit changed the caller's texts list"),
    ValidatesInInit: ("check_sklearn_init_and_set_params", "must store every argument"),
    CoercesInInit: ("check_sklearn_init_and_set_params", "must store every argument"),
    DerivesInInit: ("check_init_stores_params", "sets attributes that are not parameters"),
    StreamCalibrationLost: ("check_save_load_stream", "before; the model file must keep"),
    SilentWarmStart: ("check_second_fit_starts_fresh", "must start from scratch"),
    OverwritesParams: ("check_fit_keeps_params", "changed parameter(s) learning_rate"),
    PublicFitAttribute: ("check_fit_keeps_params", "added public attribute(s) ['trained_on']"),
    ScoreCaches: ("check_methods_leave_model_unchanged", "score changed the model's attribute"),
    Unseeded: ("check_random_state", "same random_state"),
    NeverLearns: ("check_fit_generate_score", "learned nothing"),
}


@hookimpl
def charzoo_register_models(register):
    for cls in CAUGHT_BY:
        register(cls, name=f"broken-{cls.__name__.lower()}")
