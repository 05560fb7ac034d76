"""charzoo: a plugin-based zoo of character-level language models with a scikit-learn API.

>>> from charzoo import CharMLP
>>> from charzoo.datasets import load_names
>>> model = CharMLP(max_steps=100, random_state=0).fit(load_names()[:500])
>>> len(model.generate(3))
3
"""

from charzoo._version import __version__
from charzoo.base import CharLM
from charzoo.hookspecs import hookimpl
from charzoo.lr_finder import LRFindResult, lr_find
from charzoo.models.bigram import CharBigram
from charzoo.models.bow import CharBoW
from charzoo.models.mlp import CharMLP
from charzoo.models.neural_bigram import CharNeuralBigram
from charzoo.models.ngram import CharNGram
from charzoo.models.rnn import CharGRU, CharLSTM, CharRNN
from charzoo.models.transformer import CharTransformer
from charzoo.models.wavenet import CharWaveNet
from charzoo.persistence import ModelFileError
from charzoo.persistence import load_model as load
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

__all__ = [
    "CharBigram",
    "CharBoW",
    "CharGRU",
    "CharLM",
    "CharLSTM",
    "CharMLP",
    "CharNGram",
    "CharNeuralBigram",
    "CharRNN",
    "CharTransformer",
    "CharWaveNet",
    "CharTokenizer",
    "LRFindResult",
    "ModelFileError",
    "PluginWarning",
    "TrainingDivergedWarning",
    "__version__",
    "create_model",
    "get_model_class",
    "hookimpl",
    "list_models",
    "list_plugins",
    "load",
    "lr_find",
    "model_info",
]
