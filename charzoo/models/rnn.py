"""Recurrent language models: vanilla RNN, GRU and LSTM on torch's fused kernels."""

from __future__ import annotations

import torch
from torch import _VF, nn

from charzoo.hookspecs import hookimpl
from charzoo.layers import Dropout, output_layer
from charzoo.params import Fraction, PositiveInt
from charzoo.sequence import NeuralSequenceLM

__all__ = ["CharGRU", "CharLSTM", "CharRNN"]

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentModule(nn.Module):
    """Embedding, a stack of fused ``nn.RNN``/``nn.GRU``/``nn.LSTM`` layers, linear read-out.

    ``forward(idx (B, T), state) -> (logits (B, T, V), state)``; the state is the hidden
    state ``(n_layers, B, n_hidden)`` (a pair ``(h, c)`` for the LSTM).
    """

    block_size = None  # unbounded context: the state carries everything

    def __init__(
        self, cell: str, vocab_size: int, n_embd: int, n_hidden: int, n_layers: int, dropout: float
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, n_embd)
        self.rnn = _CELLS[cell](
            n_embd, n_hidden, n_layers, batch_first=True, dropout=dropout if n_layers > 1 else 0.0
        )
        self.drop = Dropout(dropout)
        self.output = output_layer(n_hidden, vocab_size)  # initial loss ~ ln(V)

    def forward(self, idx: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        x = self.drop(self.embedding(idx))
        if self.training and self.rnn.dropout > 0:
            out, state = self._layer_by_layer(x, state)
        else:
            out, state = self.rnn(x, state)
        return self.output(self.drop(out)), state

    def _layer_by_layer(self, x: torch.Tensor, state: object) -> tuple[torch.Tensor, object]:
        """The stacked layers one at a time, with :class:`~charzoo.layers.Dropout` between
        them: the fused kernel's inter-layer dropout draws from torch's global generator, this
        one from the fit's own (same weights, same computation otherwise)."""
        rnn, lstm = self.rnn, isinstance(self.rnn, nn.LSTM)
        n_layers, batch = rnn.num_layers, x.shape[0]
        if state is None:
            zeros = x.new_zeros(n_layers, batch, rnn.hidden_size)
            state = (zeros, zeros) if lstm else zeros
        kernel = {nn.GRU: _VF.gru, nn.LSTM: _VF.lstm, nn.RNN: _VF.rnn_tanh}[type(rnn)]
        weights = rnn._flat_weights
        per = len(weights) // n_layers
        hidden, cells = [], []
        for layer in range(n_layers):
            w = weights[layer * per : (layer + 1) * per]
            if lstm:
                hx = (state[0][layer : layer + 1], state[1][layer : layer + 1])
                x, h, c = kernel(x, hx, w, rnn.bias, 1, 0.0, True, False, True)
                cells.append(c)
            else:
                x, h = kernel(x, state[layer : layer + 1], w, rnn.bias, 1, 0.0, True, False, True)
            hidden.append(h)
            if layer < n_layers - 1:
                x = self.drop(x)
        h = torch.cat(hidden)
        return x, ((h, torch.cat(cells)) if lstm else h)


class _RecurrentLM(NeuralSequenceLM):
    """Shared estimator of the recurrent models (``_cell`` picks the layer type)."""

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {"n_embd": 16, "n_hidden": 32, "n_layers": 1, "seq_length": 32}

    _cell = "rnn"
    _parameter_constraints: dict = {
        "n_embd": [PositiveInt],
        "n_hidden": [PositiveInt],
        "n_layers": [PositiveInt],
        "dropout": [Fraction(closed="left")],
        "seq_length": [PositiveInt],
    }
    _default_overrides: dict = {
        "batch_size": 128,
        "learning_rate": 3e-3,
        "max_steps": 4000,
        "warmup_steps": 100,
    }

    def __init__(
        self,
        *,
        n_embd: int = 64,
        n_hidden: int = 256,
        n_layers: int = 2,
        dropout: float = 0.2,
        seq_length: int = 128,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.n_embd = n_embd
        self.n_hidden = n_hidden
        self.n_layers = n_layers
        self.dropout = dropout
        self.seq_length = seq_length

    def _train_length(self) -> int:
        return self.seq_length

    def _build_module(self) -> RecurrentModule:
        return RecurrentModule(
            self._cell,
            self.tokenizer_.vocab_size,
            self.n_embd,
            self.n_hidden,
            self.n_layers,
            self.dropout,
        )


_DOC = """{title}

    {what}

    Parameters
    ----------
    n_embd : int, default=64
        Dimension of the character embeddings.
    n_hidden : int, default=256
        Hidden units per recurrent layer.
    n_layers : int, default=2
        Stacked recurrent layers.
    dropout : float, default=0.2
        Dropout on the embeddings, between layers and before the read-out.
    seq_length : int, default=128
        Stream mode: length of the training windows (steps of truncated back-propagation
        through time). Document mode trains on whole texts.
    batch_size, learning_rate, max_steps, warmup_steps : see :class:`charzoo.neural.NeuralMixin`
        Defaults 128, 3e-3, 4000, 100 (cosine schedule).
    grad_clip : float or None, default=1.0
        Gradient-norm clipping, on by default: exploding gradients are the classic failure
        of recurrent networks (Pascanu et al. 2013).
    stream_sampling : {{"random", "adjacent"}}, default="random"
        See :class:`charzoo.sequence.NeuralSequenceLM`.
    **kwargs
        Other training parameters of :class:`charzoo.neural.NeuralMixin` and common parameters
        of :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : RecurrentModule
    history_ : dict of lists
    n_steps_ : int

    Notes
    -----
    Preset: ``{name}.from_preset("shakespeare")``: {preset}{names}

    References
    ----------
    {refs}

    Examples
    --------
    >>> from charzoo import {name}
    >>> from charzoo.datasets import load_names
    >>> model = {name}(max_steps=50, random_state=0).fit(load_names()[:1000])
    >>> all(s.startswith("an") for s in model.generate(3, prefix="an"))
    True
    """

_SHAKESPEARE = {
    "n_embd": 64,
    "n_hidden": 512,
    "n_layers": 2,
    "dropout": 0.0,
    "seq_length": 64,
    "batch_size": 32,
    "learning_rate": 3e-3,
    "max_steps": 2500,
    "stream_sampling": "adjacent",
}


# names presets: selected on the validation NLL of the names split (benchmarks/quality_push.py)
_NAMES_LSTM = {
    "n_embd": 64,
    "n_hidden": 256,
    "n_layers": 2,
    "dropout": 0.3,
    "batch_size": 128,
    "learning_rate": 3e-3,
    "max_steps": 4500,
    "ema_decay": 0.999,
}
_NAMES_GRU = {**_NAMES_LSTM, "weight_decay": 0.2, "max_steps": 4000}
_NAMES_NOTE = """

    Preset: ``{name}.from_preset("names")``: {preset}; test NLL {figure} on the names
    split (``benchmarks/results/quality_push.md``)."""


class CharRNN(_RecurrentLM):
    _cell = "rnn"
    presets = {"shakespeare": _SHAKESPEARE}


class CharGRU(_RecurrentLM):
    _cell = "gru"
    presets = {"shakespeare": _SHAKESPEARE, "names": _NAMES_GRU}


class CharLSTM(_RecurrentLM):
    _cell = "lstm"
    presets = {"shakespeare": _SHAKESPEARE, "names": _NAMES_LSTM}


CharRNN.__doc__ = _DOC.format(
    title="Vanilla (Elman) recurrent network language model with tanh units.",
    what="``h_t = tanh(W x_t + U h_{t-1} + b)``, torch's fused ``nn.RNN``.",
    name="CharRNN",
    preset=_SHAKESPEARE,
    names="",
    refs='T. Mikolov, M. Karafiat, L. Burget, J. Cernocky, S. Khudanpur, "Recurrent neural '
    'network based language model", Interspeech (2010).',
)
CharGRU.__doc__ = _DOC.format(
    title="Gated recurrent unit language model.",
    what="Update and reset gates control the hidden state; torch's fused ``nn.GRU``.",
    name="CharGRU",
    preset=_SHAKESPEARE,
    names=_NAMES_NOTE.format(
        name="CharGRU",
        preset=_NAMES_GRU,
        figure="1.916 (validation 1.933; 492 s at one thread)",
    ),
    refs='K. Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for '
    'Statistical Machine Translation", EMNLP (2014).',
)
CharLSTM.__doc__ = _DOC.format(
    title="Long short-term memory language model.",
    what="Gated memory cells (Hochreiter & Schmidhuber 1997) as used for character-level "
    "generation by Graves; torch's fused ``nn.LSTM``.",
    name="CharLSTM",
    preset=_SHAKESPEARE,
    names=_NAMES_NOTE.format(
        name="CharLSTM",
        preset=_NAMES_LSTM,
        figure="1.910 (validation 1.927; 573 s at one thread)",
    ),
    refs='A. Graves, "Generating Sequences With Recurrent Neural Networks", arXiv:1308.0850 '
    "(2013).",
)


@hookimpl
def charzoo_register_models(register):
    register(CharRNN, name="rnn", description="Mikolov et al. 2010 vanilla tanh RNN")
    register(CharGRU, name="gru", description="Cho et al. 2014 gated recurrent unit")
    register(CharLSTM, name="lstm", description="Graves 2013 LSTM")
