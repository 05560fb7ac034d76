"""charzoo: a plugin-based zoo of character-level language models with a scikit-learn API.

>>> from charzoo import CharMLP
>>> from charzoo.datasets import load_names
>>> model = CharMLP(max_steps=100, random_state=0).fit(load_names()[:500])
>>> len(model.generate(3))
3

``import charzoo`` is cheap: the names below are imported on first use (PEP 562), so the
command line starts at once and imports torch and scikit-learn only when a command needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from charzoo._version import __version__

# public name -> module that defines it (imported on first access): every public name of the
# package is a key here
_LAZY = {
    "CharBigram": "charzoo.models.bigram",
    "CharBoW": "charzoo.models.bow",
    "CharGRU": "charzoo.models.rnn",
    "CharLM": "charzoo.base",
    "CharLMClassifier": "charzoo.classifier",
    "CharLSTM": "charzoo.models.rnn",
    "CharMLP": "charzoo.models.mlp",
    "CharMixture": "charzoo.models.mixture",
    "CharNGram": "charzoo.models.ngram",
    "CharNeuralBigram": "charzoo.models.neural_bigram",
    "CharRNN": "charzoo.models.rnn",
    "CharTransformer": "charzoo.models.transformer",
    "CharWaveNet": "charzoo.models.wavenet",
    "CharTokenizer": "charzoo.tokenizer",
    "LRFindResult": "charzoo.lr_finder",
    "ModelFileError": "charzoo.persistence",
    "PluginWarning": "charzoo.registry",
    "TrainingDivergedWarning": "charzoo.training",
    "compare": "charzoo.comparison",
    "create_model": "charzoo.registry",
    "get_model_class": "charzoo.registry",
    "hookimpl": "charzoo.hookspecs",
    "list_models": "charzoo.registry",
    "list_plugins": "charzoo.registry",
    "list_pretrained": "charzoo.pretrained_models",
    "load": "charzoo.persistence",
    "lr_find": "charzoo.lr_finder",
    "model_info": "charzoo.registry",
    "pretrained": "charzoo.pretrained_models",
}
_RENAMED = {"load": "load_model"}
# submodules reachable as attributes (``charzoo.metrics.perplexity_scorer``) before any import
_SUBMODULES = {
    "base", "calibration", "callbacks", "classifier", "classifier_file", "cli", "comparison",
    "data", "datasets", "distributed", "encoded", "hookspecs", "lr_finder", "metrics",
    "models", "neural", "persistence", "plotting", "precision", "registry", "sampler",
    "sequence", "testing", "threads", "tokenizer", "training", "utils", "window",
}  # fmt: skip

# the one list of public names: the lazy table above (the TYPE_CHECKING imports below mirror it
# for static analysers; tests/test_core_api.py checks that they agree)
__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = getattr(module, _RENAMED.get(name, name))
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"charzoo.{name}")
    raise AttributeError(f"module 'charzoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})


if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from charzoo.base import CharLM
    from charzoo.classifier import CharLMClassifier
    from charzoo.comparison import compare
    from charzoo.hookspecs import hookimpl
    from charzoo.lr_finder import LRFindResult, lr_find
    from charzoo.models.bigram import CharBigram
    from charzoo.models.bow import CharBoW
    from charzoo.models.mixture import CharMixture
    from charzoo.models.mlp import CharMLP
    from charzoo.models.neural_bigram import CharNeuralBigram
    from charzoo.models.ngram import CharNGram
    from charzoo.models.rnn import CharGRU, CharLSTM, CharRNN
    from charzoo.models.transformer import CharTransformer
    from charzoo.models.wavenet import CharWaveNet
    from charzoo.persistence import ModelFileError
    from charzoo.persistence import load_model as load
    from charzoo.pretrained_models import list_pretrained, pretrained
    from charzoo.registry import (
        PluginWarning,
        create_model,
        get_model_class,
        list_models,
        list_plugins,
        model_info,
    )
    from charzoo.tokenizer import CharTokenizer
    from charzoo.training import TrainingDivergedWarning
