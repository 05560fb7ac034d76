"""Reference GPU loops written the plain way, for :mod:`benchmarks.accelerator`.

- :func:`train_plain`: a nanoGPT-style training loop (data on the device, random blocks drawn
  there, bf16 autocast, ``torch.compile``, fused AdamW, warm-up then cosine decay to a tenth,
  gradient clipping, periodic validation on random blocks) around :class:`PlainGPT`, which has
  the layout and initialisation of charzoo's ``CharTransformer`` (pre-LN blocks, GELU MLP,
  learned positions, tied embedding and read-out, GPT-2 init with scaled residual
  projections) but no key/value cache.
- :func:`sample_full_recompute`: makemore's sampling loop: every step runs the module over the
  whole (cropped) context of all rows and samples the next id of each; a fixed number of steps.
- :func:`block_nll`: the validation estimate both sides are judged by (mean NLL of random
  ``block_size`` windows, the same windows for every model).

Written for this benchmark after reading nanoGPT and makemore; no code is copied.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn


class _Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.n_head, self.dropout = n_head, dropout
        self.ln1, self.ln2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.qkv, self.proj = nn.Linear(n_embd, 3 * n_embd), nn.Linear(n_embd, n_embd)
        self.fc1, self.fc2 = nn.Linear(n_embd, 4 * n_embd), nn.Linear(4 * n_embd, n_embd)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        qkv = self.qkv(self.ln1(x)).view(B, T, 3, self.n_head, C // self.n_head)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.ln2(x)))))


class PlainGPT(nn.Module):
    """``forward(idx (B, T)) -> (logits (B, T, V), None)`` like charzoo's sequence modules."""

    def __init__(self, vocab: int, block_size: int, n_layer: int, n_head: int, n_embd: int,
                 dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.block_size = block_size
        self.tok, self.pos = nn.Embedding(vocab, n_embd), nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab, bias=False)
        self.head.weight = self.tok.weight
        for name, p in self.named_parameters():
            if p.dim() >= 2:  # as CharTransformer: the attention projection is scaled
                residual = name.endswith("proj.weight")
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer) if residual else 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx: torch.Tensor, state: object = None) -> tuple[torch.Tensor, None]:
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.drop(self.tok(idx) + self.pos(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x)), None


def flops_per_token(n_params: int, n_layer: int, n_embd: int, block_size: int) -> float:
    """Training FLOPs per token (forward and backward) of a GPT: 6 per parameter plus the
    attention matmuls, 12 * layers * width * context (the PaLM appendix estimate)."""
    return 6 * n_params + 12 * n_layer * n_embd * block_size


def random_blocks(data: torch.Tensor, block: int, batch: int, generator: torch.Generator):
    """Inputs and targets of ``batch`` random windows of ``data`` (drawn on its device)."""
    start = torch.randint(len(data) - block - 1, (batch, 1), device=data.device,
                          generator=generator)  # fmt: skip
    pos = start + torch.arange(block, device=data.device)
    return data[pos].long(), data[pos + 1].long()


@torch.no_grad()
def block_nll(module, data: torch.Tensor, block: int, batch: int, n_batches: int,
              seed: int = 1234, autocast=nullcontext) -> float:  # fmt: skip
    """Mean NLL (fp32 cross-entropy) of ``n_batches`` x ``batch`` random windows of ``data``,
    the same windows for every call with the same ``seed``."""
    was_training = module.training
    module.eval()
    generator = torch.Generator(device=data.device).manual_seed(seed)
    total = torch.zeros((), dtype=torch.float64, device=data.device)
    for _ in range(n_batches):
        x, y = random_blocks(data, block, batch, generator)
        with autocast():
            logits = module(x)[0]
        total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten()).double()
    module.train(was_training)
    return float(total) / n_batches


def train_plain(module: nn.Module, train: torch.Tensor, val: torch.Tensor, *, steps: int,
                batch: int, lr: float, warmup: int, eval_interval: int, eval_batches: int,
                weight_decay: float = 0.1, betas=(0.9, 0.99), compile: bool = True,
                bf16: bool = True, seed: int = 0, time_from: int = 10) -> dict:  # fmt: skip
    """Train ``module`` nanoGPT's way; returns ms/step (steps after ``time_from`` that do not
    evaluate, synchronised at the ends only), the best validation NLL and its step."""
    device = train.device
    block = module.block_size
    decay = [p for p in module.parameters() if p.dim() >= 2]
    rest = [p for p in module.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0}]
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)
    model = torch.compile(module) if compile else module
    use_bf16 = bf16 and (device.type != "cuda" or torch.cuda.is_bf16_supported())

    def autocast():
        if not use_bf16:
            return nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def rate(step: int) -> float:
        if step < warmup:
            return lr * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return lr * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))

    generator = torch.Generator(device=device).manual_seed(seed)
    best, best_step, timed, elapsed = math.inf, None, 0, 0.0
    started = None
    module.train()
    for step in range(steps):
        if started is None and step >= time_from:
            _sync(device)
            started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = rate(step)
        x, y = random_blocks(train, block, batch, generator)
        with autocast():
            logits = model(x)[0]
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if started is not None:
            timed += 1
        if (step + 1) % eval_interval == 0 or step == steps - 1:
            if started is not None:
                _sync(device)
                elapsed += time.perf_counter() - started
            nll = block_nll(module, val, block, batch, eval_batches, autocast=autocast)
            if nll < best:
                best, best_step = nll, step + 1
            started = time.perf_counter() if step + 1 >= time_from else None
    return {
        "ms_per_step": 1000 * elapsed / max(1, timed),
        "timed_steps": timed,
        "best_val_nll": best,
        "best_step": best_step,
    }


@torch.no_grad()
def sample_full_recompute(module: nn.Module, n: int, steps: int, block_size: int | None,
                          generator: torch.Generator) -> list[list[int]]:  # fmt: skip
    """makemore's batched sampling, on the module's device: ``steps`` times, run the module
    over every row's (cropped) context, sample the last position; cut at the end marker (0)."""
    device = next(module.parameters()).device
    idx = torch.zeros(n, 1, dtype=torch.long, device=device)
    for _ in range(steps):
        context = idx if block_size is None or idx.shape[1] <= block_size else idx[:, -block_size:]
        probs = F.softmax(module(context)[0][:, -1].float(), dim=-1)
        idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)
    return [row[: row.index(0)] if 0 in row else row for row in idx[:, 1:].tolist()]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
