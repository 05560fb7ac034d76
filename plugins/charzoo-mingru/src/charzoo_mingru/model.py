"""minGRU and minLSTM character language models (Feng et al. 2024) on charzoo's sequence family.

The gates of a minGRU/minLSTM depend on the current input only, not on the previous hidden
state, so the recurrence ``h_t = a_t * h_{t-1} + b_t`` is *linear* in ``h`` and all time steps
are computed at once during training with a parallel scan in log space (Heinsen 2023). During
generation the same recurrence runs one step at a time from the carried state, costing O(1) per
character. Stacking layers with a feed-forward block between them (as in the paper's language
models) restores the non-linearity across time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from charzoo.layers import Dropout, output_layer
from charzoo.params import Fraction, PositiveFloat, PositiveInt
from charzoo.sequence import NeuralSequenceLM

__all__ = ["CharMinGRU", "CharMinLSTM", "MinRNNModule", "parallel_scan_log"]


def parallel_scan_log(log_coeffs: torch.Tensor, log_values: torch.Tensor) -> torch.Tensor:
    """All ``h_t = a_t h_{t-1} + b_t`` (``h_0 = 0``) at once from ``log a`` and ``log b``.

    ``h_t = A_t * sum_{s<=t} b_s / A_s`` with ``A_t = prod_{s<=t} a_s``, evaluated with a
    cumulative sum and a ``logcumsumexp`` over time (dimension 1), so it is stable in float32.

    Parameters
    ----------
    log_coeffs, log_values : torch.Tensor of shape (B, T, D)

    Returns
    -------
    torch.Tensor of shape (B, T, D)
        The (positive) hidden states.
    """
    a_star = torch.cumsum(log_coeffs, dim=1)
    return torch.exp(a_star + _logcumsumexp(log_values - a_star))


def _logcumsumexp(x: torch.Tensor) -> torch.Tensor:
    """``torch.logcumsumexp(x, dim=1)``, several times faster on the CPU.

    Shifts by the maximum over time and sums in float64, which is exact as long as every
    running maximum lies within ~600 nats of the overall maximum (float64 ``exp`` underflows
    near -708); otherwise falls back to ``torch.logcumsumexp``.
    """
    with torch.no_grad():
        ref = x.amax(dim=1, keepdim=True)
        spread = (torch.cummax(x, dim=1).values - ref).amin() if x.numel() else 0.0
    if not bool(torch.isfinite(ref).all()) or spread < -600:
        return torch.logcumsumexp(x, dim=1)
    return (torch.log(torch.cumsum(torch.exp(x.double() - ref), dim=1)) + ref).to(x.dtype)


def _log_g(x: torch.Tensor) -> torch.Tensor:
    """log of g(x) = x + 0.5 (x >= 0) or sigmoid(x) (x < 0): a positive, continuous activation."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class MinRNNLayer(nn.Module):
    """One minGRU (``cell="gru"``) or minLSTM (``cell="lstm"``) layer with an output projection.

    minGRU: ``z = sigmoid(W_z x)``, ``h = (1 - z) h_prev + z g(W_h x)``.
    minLSTM: ``f, i = sigmoid(W_f x), sigmoid(W_i x)`` normalised to ``f / (f + i)`` and
    ``i / (f + i)``, ``h = f' h_prev + i' g(W_h x)``.
    """

    def __init__(self, cell: str, dim: int, hidden: int) -> None:
        super().__init__()
        self.cell = cell
        self.n_gates = 1 if cell == "gru" else 2
        self.proj = nn.Linear(dim, hidden * (self.n_gates + 1))
        self.out = nn.Linear(hidden, dim)

    def _log_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log a_t`` and ``log b_t`` of the recurrence for inputs ``x`` (B, T, dim)."""
        *gates, candidate = self.proj(x).chunk(self.n_gates + 1, dim=-1)
        if self.cell == "gru":
            log_keep, log_update = -F.softplus(gates[0]), -F.softplus(-gates[0])
        else:
            diff = F.softplus(-gates[0]) - F.softplus(-gates[1])  # log i - log f
            log_keep, log_update = -F.softplus(diff), -F.softplus(-diff)
        return log_keep, log_update + _log_g(candidate)

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        log_keep, log_value = self._log_terms(x)
        if x.shape[1] == 1:  # generation: one cheap recurrent step
            h = torch.exp(log_value)
            if h0 is not None:
                h = h + torch.exp(log_keep) * h0[:, None]
        else:  # training and scoring: every step at once
            if h0 is not None:
                log_h0 = torch.log(h0.clamp_min(1e-30))[:, None]
                log_value = torch.cat([log_h0, log_value], dim=1)
                log_keep = F.pad(log_keep, (0, 0, 1, 0))
            h = parallel_scan_log(log_keep, log_value)
            if h0 is not None:
                h = h[:, 1:]
        return self.out(h), h[:, -1]


class MinRNNBlock(nn.Module):
    """Pre-LayerNorm residual block: a min-RNN layer, then a GELU feed-forward layer."""

    def __init__(self, cell: str, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.rnn = MinRNNLayer(cell, dim, hidden)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.drop = Dropout(dropout)

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        y, h = self.rnn(self.norm1(x), h0)
        x = x + self.drop(y)
        return x + self.drop(self.mlp(self.norm2(x))), h


class MinRNNModule(nn.Module):
    """Embedding, ``n_layers`` min-RNN blocks, LayerNorm, linear read-out.

    ``forward(idx (B, T), state) -> (logits (B, T, V), state)``: the charzoo sequence-module
    contract; the state is a tuple of the last hidden state of each layer, ``(B, hidden)``.
    """

    block_size = None  # unbounded context: the state carries everything

    def __init__(
        self, cell: str, vocab_size: int, n_embd: int, hidden: int, n_layers: int, dropout: float
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, n_embd)
        self.drop = Dropout(dropout)
        self.blocks = nn.ModuleList(
            MinRNNBlock(cell, n_embd, hidden, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(n_embd)
        self.output = output_layer(n_embd, vocab_size)  # initial loss ~ ln(V)

    def forward(
        self, idx: torch.Tensor, state: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        x = self.drop(self.embedding(idx))
        new_state = []
        for i, block in enumerate(self.blocks):
            x, h = block(x, None if state is None else state[i])
            new_state.append(h)
        return self.output(self.norm(x)), tuple(new_state)


class _MinRNNLM(NeuralSequenceLM):
    _cell = "gru"
    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {"n_embd": 16, "n_layers": 1, "seq_length": 32}

    _parameter_constraints: dict = {
        "n_embd": [PositiveInt],
        "expansion": [PositiveFloat],
        "n_layers": [PositiveInt],
        "dropout": [Fraction(closed="left")],
        "seq_length": [PositiveInt],
    }
    _default_overrides: dict = {"learning_rate": 3e-3, "max_steps": 6000, "warmup_steps": 200}

    def __init__(
        self,
        *,
        n_embd: int = 96,
        expansion: float = 1.5,
        n_layers: int = 3,
        dropout: float = 0.1,
        seq_length: int = 128,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.n_embd = n_embd
        self.expansion = expansion
        self.n_layers = n_layers
        self.dropout = dropout
        self.seq_length = seq_length

    def _train_length(self) -> int:
        return self.seq_length

    def _build_module(self) -> MinRNNModule:
        hidden = max(1, round(self.n_embd * self.expansion))
        return MinRNNModule(
            self._cell,
            self.tokenizer_.vocab_size,
            self.n_embd,
            hidden,
            self.n_layers,
            self.dropout,
        )


_DOC = """{title}

    {what} Training evaluates every time step at once with a log-space parallel scan
    (``cumsum`` + ``logcumsumexp``); generation runs the recurrence one character at a time
    from the carried hidden state.

    Parameters
    ----------
    n_embd : int, default=96
        Width of the residual stream (character embeddings).
    expansion : float, default=1.5
        Hidden size of each recurrent layer as a multiple of ``n_embd``.
    n_layers : int, default=3
        Residual blocks (recurrent layer + feed-forward layer).
    dropout : float, default=0.1
        Dropout on the embeddings and on each residual branch.
    seq_length : int, default=128
        Stream mode: length of the training windows. Document mode trains on whole texts.
    batch_size, learning_rate, max_steps, warmup_steps : see :class:`charzoo.neural.NeuralMixin`
        Defaults 64, 3e-3, 6000, 200 (cosine schedule).
    **kwargs
        Other training parameters (``validation_fraction``, ``callbacks``, ...) and common
        parameters of :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : MinRNNModule
    history_ : dict of lists
    n_steps_ : int

    References
    ----------
    L. Feng, F. Tung, M. O. Ahmed, Y. Bengio, H. Hajimirsadeghi, "Were RNNs All We Needed?",
    arXiv:2410.01201 (2024).
    F. A. Heinsen, "Efficient Parallelization of a Ubiquitous Sequential Computation",
    arXiv:2311.06281 (2023).

    Examples
    --------
    >>> from charzoo_mingru import {name}
    >>> from charzoo.datasets import load_names
    >>> model = {name}(max_steps=50, random_state=0).fit(load_names()[:1000])
    >>> all(s.startswith("an") for s in model.generate(3, prefix="an"))
    True
    """


class CharMinGRU(_MinRNNLM):
    _cell = "gru"


class CharMinLSTM(_MinRNNLM):
    _cell = "lstm"


CharMinGRU.__doc__ = _DOC.format(
    title="minGRU character language model.",
    what="``z_t = sigmoid(W_z x_t)``, ``h_t = (1 - z_t) h_{t-1} + z_t g(W_h x_t)``: a GRU "
    "whose gate and candidate see only the input.",
    name="CharMinGRU",
)
CharMinLSTM.__doc__ = _DOC.format(
    title="minLSTM character language model.",
    what="Forget and input gates from the input only, normalised to sum to one: "
    "``h_t = f'_t h_{t-1} + i'_t g(W_h x_t)``.",
    name="CharMinLSTM",
)
