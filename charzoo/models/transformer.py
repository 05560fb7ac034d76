"""GPT-style decoder-only Transformer (GPT-2 layout, pre-LayerNorm) with a KV cache."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from charzoo.hookspecs import hookimpl
from charzoo.layers import Dropout
from charzoo.params import Fraction, PositiveInt
from charzoo.sequence import NeuralSequenceLM
from charzoo.sequence.batching import Packing

__all__ = ["CharTransformer"]


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention through ``F.scaled_dot_product_attention``."""

    def __init__(self, n_embd: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = dropout
        self.attn_drop = Dropout(dropout)  # no state: the state dict is unchanged
        self.resid_drop = Dropout(dropout)

    def forward(
        self, x: torch.Tensor, cache: tuple | None, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple]:
        """``mask`` (packed batches, no cache): which keys each query may attend to."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads).permute(2, 0, 3, 1, 4)
        past = 0
        if cache is not None:
            past = cache[0].shape[2]
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        causal = mask is None and T > 1 and past == 0
        if T > 1 and past > 0:  # new queries see the cache and the causal part of the new keys
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(past)
        if self.training and self.dropout > 0:
            # attention dropout with the fit's own generator (the fused kernel's dropout
            # draws from torch's global one): the weights are formed explicitly
            y = self._attend_with_dropout(q, k, v, mask, causal)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(B, T, C))), (k, v)

    def _attend_with_dropout(self, q, k, v, mask, causal: bool) -> torch.Tensor:
        scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
        if causal:
            T = q.shape[-2]
            mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return self.attn_drop(scores.softmax(dim=-1)) @ v


class Block(nn.Module):
    """Pre-LN block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))`` with a 4x GELU MLP."""

    def __init__(self, n_embd: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_heads, dropout)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(),
            nn.Linear(4 * n_embd, n_embd),
            Dropout(dropout),
        )

    def forward(
        self, x: torch.Tensor, cache: tuple | None, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple]:
        a, cache = self.attn(self.ln1(x), cache, mask)
        x = x + a
        return x + self.mlp(self.ln2(x)), cache


class TransformerModule(nn.Module):
    """Token + learned position embeddings, ``n_layers`` pre-LN blocks, final LN, tied head.

    ``forward(idx (B, T), cache) -> (logits (B, T, V), cache)``; the cache is one ``(k, v)``
    pair per layer, each ``(B, n_heads, t, head_dim)``; cached plus new positions must not
    exceed ``block_size``. ``forward(idx, packing=Packing(...))`` reads a packed batch of
    several texts per row (training only, no cache): positions restart at each text and a
    slot attends only to earlier slots of its own text, so each text gets the logits it
    gets alone.
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_layers: int,
        n_heads: int,
        n_embd: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok = nn.Embedding(vocab_size, n_embd)
        self.pos = nn.Embedding(block_size, n_embd)
        self.drop = Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_heads, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.tok.weight  # weight tying (GPT-2)
        for name, p in self.named_parameters():  # GPT-2 initialisation
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * n_layers) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(
        self, idx: torch.Tensor, cache: list | None = None, packing: Packing | None = None
    ) -> tuple[torch.Tensor, list]:
        past = 0 if cache is None else cache[0][0].shape[2]
        T = idx.shape[1]
        if past + T > self.block_size:
            raise ValueError(f"context of {past + T} ids exceeds block_size={self.block_size}")
        mask = None
        if packing is None:
            pos = torch.arange(past, past + T, device=idx.device)
        else:
            if cache is not None:
                raise ValueError("a packed batch starts its texts afresh: pass no cache")
            pos, segments = packing
            causal = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
            mask = ((segments[:, :, None] == segments[:, None, :]) & causal)[:, None]
        x = self.drop(self.tok(idx) + self.pos(pos))
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, None if cache is None else cache[i], mask)
            new_cache.append(layer_cache)
        return self.head(self.ln_f(x)), new_cache


class CharTransformer(NeuralSequenceLM):
    """GPT-style character Transformer: causal self-attention over the last ``block_size`` ids.

    The GPT-2 layout (pre-LayerNorm blocks, GELU MLP, learned positions, tied embedding and
    read-out, scaled initialisation of residual projections) with the attention of Vaswani et
    al. computed by ``torch.nn.functional.scaled_dot_product_attention``. Generation keeps a
    key/value cache, so each new character attends to the cache instead of recomputing the
    whole context. In document mode a text is read from its start (texts longer than
    ``block_size`` are trained on random crops); in stream mode training windows are
    ``block_size`` long and scoring slides a half-overlapping window.

    Parameters
    ----------
    n_layers : int, default=4
        Transformer blocks.
    n_heads : int, default=4
        Attention heads (must divide ``n_embd``).
    n_embd : int, default=128
        Embedding width.
    dropout : float, default=0.1
        Dropout on embeddings, attention weights and residual branches.
    block_size : int, default=32
        Maximum context (positions learned).
    pack_documents : bool, default=False
        Document mode: train on the drawn texts packed several to a row (rows twice as long
        as the longest text drawn, at most ``block_size``), each text (or its window, for a
        text longer than ``block_size``) attending only to itself from position 0. The same
        texts and the same loss as padded batches, in about as many slots as the texts have
        characters, so a step is faster (``benchmarks/results/packing_speed.jsonl``). The
        random dropout masks differ, so a fit does not reproduce an unpacked one. No effect
        in stream mode (its windows are full).
    batch_size, learning_rate, max_steps, warmup_steps : see :class:`charzoo.neural.NeuralMixin`
        Defaults 128, 2e-3, 5000, 200 (cosine schedule).
    stream_sampling : {"random", "adjacent"}, default="random"
        See :class:`charzoo.sequence.NeuralSequenceLM` (adjacent windows do not carry a cache).
    **kwargs
        Other training parameters of :class:`charzoo.neural.NeuralMixin` and common parameters
        of :class:`charzoo.base.CharLM` (``mode``, ``random_state``, ...).

    Attributes
    ----------
    tokenizer_ : CharTokenizer
    module_ : TransformerModule
    history_ : dict of lists
    n_steps_ : int

    Notes
    -----
    Presets (``CharTransformer.presets``): ``from_preset("shakespeare")``: 4 layers, 4 heads,
    width 128, block 64, batch 32, no dropout, 5000 steps. ``from_preset("names")``: 5
    layers of width 112 (4 heads), ``dropout=0.15``, ``weight_decay=0.1``, an exponential
    moving average of the weights (``ema_decay=0.999``), ``learning_rate=2.5e-3``, batches
    of 160 packed names (``pack_documents=True``) and 8,000 steps. Measured quality and fit
    times: ``docs/zoo.md`` and ``benchmarks/results/quality_push.md`` (every configuration
    tried).

    References
    ----------
    A. Vaswani et al., "Attention Is All You Need", NeurIPS (2017).
    A. Radford, J. Wu, R. Child, D. Luan, D. Amodei, I. Sutskever, "Language Models are
    Unsupervised Multitask Learners" (GPT-2, 2019).

    Examples
    --------
    >>> from charzoo import CharTransformer
    >>> from charzoo.datasets import load_names
    >>> model = CharTransformer(max_steps=50, random_state=0).fit(load_names()[:1000])
    >>> all(s.startswith("an") for s in model.generate(3, prefix="an"))
    True
    """

    # settings that make the model tiny for the conformance checks (charzoo.testing)
    _test_params = {"n_embd": 16, "n_layers": 1, "n_heads": 2}

    presets = {
        "names": {
            "n_layers": 5,
            "n_embd": 112,
            "dropout": 0.15,
            "weight_decay": 0.1,
            "ema_decay": 0.999,
            "learning_rate": 2.5e-3,
            "max_steps": 8000,
            "batch_size": 160,
            "pack_documents": True,
        },
        "shakespeare": {
            "n_layers": 4,
            "n_heads": 4,
            "n_embd": 128,
            "dropout": 0.0,
            "block_size": 64,
            "batch_size": 32,
            "learning_rate": 2e-3,
            "max_steps": 5000,
        },
    }

    _parameter_constraints: dict = {
        "n_layers": [PositiveInt],
        "n_heads": [PositiveInt],
        "n_embd": [PositiveInt],
        "dropout": [Fraction(closed="left")],
        "block_size": [PositiveInt],
        "pack_documents": ["boolean"],
    }
    _training_params = ("pack_documents",)
    _default_overrides: dict = {
        "batch_size": 128,
        "learning_rate": 2e-3,
        "max_steps": 5000,
        "warmup_steps": 200,
    }

    def __init__(
        self,
        *,
        n_layers: int = 4,
        n_heads: int = 4,
        n_embd: int = 128,
        dropout: float = 0.1,
        block_size: int = 32,
        pack_documents: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.n_embd = n_embd
        self.dropout = dropout
        self.block_size = block_size
        self.pack_documents = pack_documents

    def _check_params(self) -> None:
        if self.n_embd % self.n_heads:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_heads={self.n_heads}")

    def _packs_documents(self) -> bool:
        return self.pack_documents

    def _build_module(self) -> TransformerModule:
        return TransformerModule(
            self.tokenizer_.vocab_size,
            self.block_size,
            self.n_layers,
            self.n_heads,
            self.n_embd,
            self.dropout,
        )


@hookimpl
def charzoo_register_models(register):
    register(CharTransformer, name="transformer", description="GPT-2 style decoder Transformer")
