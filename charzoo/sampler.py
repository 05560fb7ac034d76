"""Sampling core shared by every model.

A model exposes an incremental :class:`Decoder`; :func:`sample` advances ``n`` sequences
together, one token per step, so a step costs one batched model call whatever the length
generated so far.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Protocol

import torch

from charzoo.data import check_surrogates
from charzoo.nfc import forbidden_pairs, nfc_in_vocabulary
from charzoo.tokenizer import BOUNDARY_ID, CharTokenizer, normalize
from charzoo.utils import available_memory, module_device, widest

__all__ = [
    "MAX_DEFAULT_LENGTH",
    "default_max_length",
    "generate_texts",
    "CHECK_EVERY",
    "CPU_ROWS",
    "Decoder",
    "check_sampling_params",
    "default_check_every",
    "filter_logits",
    "rows_per_batch",
    "sample",
    "scale_logits",
]

_FIRST_COLUMNS = 64  # initial width of the output buffer
CHECK_EVERY = 8  # steps between reads of the ended rows on an accelerator
CPU_ROWS = 2048  # sequences sampled together on the CPU; bounds memory for huge n


class Decoder(Protocol):
    """Incremental next-token interface every model provides for generation."""

    def start(self, prefix: torch.Tensor, n: int) -> torch.Tensor:
        """Consume the prefix ids ``(P,)`` for ``n`` rows; return next-token logits ``(n, V)``."""

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row ``(n,)``; return next-token logits ``(n, V)``."""

    # Optional: ``select(index)`` keeps only the rows ``index`` (a LongTensor) of the state,
    # so that :func:`sample` stops computing sequences that have ended.


def check_sampling_params(
    n: object, temperature: object, top_k: object, top_p: object, max_length: object
) -> None:
    """Raise ``ValueError``/``TypeError`` naming the first invalid sampling parameter."""
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, Real)
        or not (0 <= temperature < float("inf"))
    ):
        raise ValueError(
            f"temperature must be a finite number >= 0 (0 means greedy), got {temperature!r}"
        )
    if top_k is not None and (
        isinstance(top_k, bool) or not isinstance(top_k, Integral) or top_k < 1
    ):
        raise ValueError(f"top_k must be None or an integer >= 1, got {top_k!r}")
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, Real) or not (0 < top_p <= 1)
    ):
        raise ValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, Integral) or max_length < 0
    ):
        raise ValueError(f"max_length must be None or a non-negative integer, got {max_length!r}")


def filter_logits(
    logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """Mask logits outside the ``top_k`` tokens and outside the ``top_p`` nucleus with -inf.

    ``top_k`` keeps exactly ``k`` tokens even when several logits tie at the cut-off.
    """
    if top_k is not None and top_k < logits.shape[-1]:
        keep = torch.topk(logits, top_k, dim=-1).indices
        masked = torch.full_like(logits, float("-inf"))
        logits = masked.scatter(-1, keep, logits.gather(-1, keep))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop a token when the tokens ranked above it already hold top_p of the mass
        drop_sorted = (torch.cumsum(probs, dim=-1) - probs) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


# temperatures in this range divide float32 logits safely; outside it the logits are shifted
# by their maximum and divided in float64, so 1e-300 acts as (randomised-tie) greedy and 1e300
# as uniform over the allowed tokens instead of producing inf/nan probabilities
_SAFE_TEMPERATURES = (1e-3, 1e3)


def scale_logits(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``, computed without overflow for any finite ``temperature > 0``."""
    if _SAFE_TEMPERATURES[0] <= temperature <= _SAFE_TEMPERATURES[1]:
        return logits.float() / temperature
    logits = logits.double()
    top = logits.max(dim=-1, keepdim=True).values
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    shifted = (logits - top) / temperature  # <= 0; the best tokens stay at exactly 0
    return torch.where(torch.isnan(shifted), torch.full_like(shifted, float("-inf")), shifted)


def _pick(
    logits: torch.Tensor,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator,
) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(scale_logits(logits, temperature), top_k, top_p)
    probs = torch.softmax(logits, dim=-1)
    if probs.device != generator.device:  # a decoder that returns host logits (the mixture)
        probs = probs.to(generator.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).to(logits.device)


def default_check_every(device: torch.device) -> int:
    """Steps between reads of the ended rows: 1 on the CPU (a read costs nothing there and
    dropping rows at once saves the most work), :data:`CHECK_EVERY` elsewhere (each read
    waits for the device)."""
    return 1 if device.type == "cpu" else CHECK_EVERY


def rows_per_batch(module: torch.nn.Module, n: int, length: int) -> int:
    """How many of ``n`` sequences of up to ``length`` ids to sample together.

    On the CPU :data:`CPU_ROWS` (2,048: the activations stay in cache). On an accelerator
    every row at once when a generous estimate of the decoding state, 64 bytes per row,
    context position and unit of the module's widest layer, fits in half its free memory.
    """
    device = module_device(module)
    if device.type == "cpu":
        return max(1, min(n, CPU_ROWS))
    free = available_memory(device)
    if free is None:
        return max(1, min(n, CPU_ROWS))
    per_row = 64 * widest(module) * max(1, length)
    return max(1, min(n, max(CPU_ROWS, free // 2 // per_row)))


@torch.no_grad()
def sample(
    decoder: Decoder,
    prefix: torch.Tensor,
    n: int,
    max_new: int,
    *,
    stop_at_boundary: bool,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator,
    check_every: int | None = None,
    forbidden: torch.Tensor | None = None,
    last_id: int = BOUNDARY_ID,
) -> list[list[int]]:
    """Generate ``n`` continuations of ``prefix`` together, on the decoder's device.

    Every step stays on the device: tokens are drawn there (with ``generator``, which must
    live on that device or be a CPU generator for host logits) and written to an output
    buffer there, read back once at the end. Rows that end (document mode) are masked at
    once and dropped from the decoder every ``check_every`` steps, the one host read of the
    loop.

    Parameters
    ----------
    decoder : Decoder
        The model's incremental interface (fresh, not yet started).
    prefix : torch.LongTensor of shape (P,)
        Ids the continuations start from (not included in the result).
    n : int
        Number of sequences.
    max_new : int
        Maximum number of new ids per sequence.
    stop_at_boundary : bool
        Document mode: the boundary id ends a sequence. Stream mode: the boundary id is never
        sampled and every sequence runs ``max_new`` steps.
    temperature, top_k, top_p : see :meth:`charzoo.base.CharLM.generate`.
    generator : torch.Generator
        Source of randomness. The same seed on the same device gives the same samples; CPU
        and CUDA generators produce different streams.
    check_every : int, optional
        Steps between reads of which rows ended; default :func:`default_check_every`.
        The samples of a seed depend on it (ended rows kept longer draw numbers too).
    forbidden : torch.BoolTensor of shape (V, V), optional
        ``[previous id, id]`` pairs never sampled (see :func:`charzoo.nfc.forbidden_pairs`);
        ``last_id`` is the id before the first new one (the prefix's last).

    Returns
    -------
    list of list of int
        The new ids of each sequence, without the final boundary id.
    """
    if n == 0 or max_new == 0:
        return [[] for _ in range(n)]
    logits = decoder.start(prefix, n)
    device = logits.device
    check_every = check_every or default_check_every(device)
    # ended rows are dropped from the decoder when it supports ``select`` (else masked)
    compact = stop_at_boundary and hasattr(decoder, "select")
    lazy = not compact or check_every > 1  # ended rows may stay in the decoder for a while
    # the buffer grows with the longest row (doubling), so max_new = 10**9 costs nothing
    # until rows actually run that long
    shape = (n, min(max_new, _FIRST_COLUMNS))
    out = torch.full(shape, BOUNDARY_ID, dtype=torch.long, device=device)
    active = torch.arange(n, device=device)  # the rows of ``out`` the decoder's rows stand for
    done = torch.zeros(n, dtype=torch.bool, device=device)  # the decoder's rows that ended
    if forbidden is not None:
        forbidden = forbidden.to(device)
        previous = torch.full((n,), last_id, dtype=torch.long, device=device)
    for step in range(max_new):
        if not stop_at_boundary:
            logits[:, BOUNDARY_ID] = float("-inf")
        if forbidden is not None:
            logits = logits.masked_fill(forbidden[previous], float("-inf"))
        token = _pick(logits, temperature, top_k, top_p, generator)
        if lazy:
            token = token.masked_fill(done, BOUNDARY_ID)
        if step == out.shape[1]:
            width = min(max_new, 2 * step)
            wider = torch.full((n, width), BOUNDARY_ID, dtype=torch.long, device=device)
            wider[:, :step] = out
            out = wider
        out[active, step] = token
        if step == max_new - 1:
            break
        if stop_at_boundary:
            ended = token == BOUNDARY_ID
            if lazy:
                done |= ended
            if (step + 1) % check_every == 0:  # the host reads
                if not compact:
                    if bool(done.all()):
                        break
                elif bool((done if lazy else ended).any()):
                    keep = (~(done if lazy else ended)).nonzero().squeeze(1)
                    if len(keep) == 0:
                        break
                    active, token, done = active[keep], token[keep], done[keep]
                    decoder.select(keep)
        logits = decoder.advance(token)
        previous = token
    result = []
    for row in out.cpu().tolist():
        if BOUNDARY_ID in row:
            row = row[: row.index(BOUNDARY_ID)]
        result.append(row)
    return result


MAX_DEFAULT_LENGTH = 4096  # the default max_length never exceeds this (characters)


def default_max_length(mode: str, max_text_length: int) -> int:
    """``generate``'s default ``max_length``: 256 in stream mode; in document mode twice the
    longest training text, at least 32 and at most :data:`MAX_DEFAULT_LENGTH` (a model fitted
    on megabyte documents would otherwise sample millions of characters per text).

    Examples
    --------
    >>> from charzoo.sampler import default_max_length
    >>> default_max_length("document", 7), default_max_length("document", 40)
    (32, 80)
    >>> default_max_length("document", 10**6), default_max_length("stream", 10**6)
    (4096, 256)
    """
    if mode == "stream":
        return 256
    return min(MAX_DEFAULT_LENGTH, max(32, 2 * max_text_length))


def generate_texts(
    new_decoder: Callable[[], Decoder],
    module: torch.nn.Module,
    tokenizer: CharTokenizer,
    *,
    document: bool,
    handle_unknown: str,
    n: int,
    prefix: str,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    max_length: int,
    generator: torch.Generator,
) -> list[str]:
    """The work of :meth:`charzoo.base.CharLM.generate`, from what it needs as arguments:
    check them, encode the prefix (NFC), sample in batches of rows sized to the device, decode.

    Parameters
    ----------
    new_decoder : callable
        Returns a fresh :class:`Decoder` over ``module`` (one per batch of rows).
    module : torch.nn.Module
        The fitted module (put in eval mode; sizes the batches of rows).
    tokenizer : CharTokenizer
        The fitted vocabulary.
    document : bool
        Document mode (texts end at the boundary id) or stream mode.
    handle_unknown : {"error", "ignore"}
        What to do with prefix characters outside the vocabulary.
    n, prefix, temperature, top_k, top_p, max_length
        As for ``generate`` (``max_length`` resolved: see :func:`default_max_length`).
    generator : torch.Generator
        The source of randomness, on the module's device.
    """
    check_sampling_params(n, temperature, top_k, top_p, max_length)
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    check_surrogates([prefix], name="prefix")
    prefix = normalize(prefix)
    prefix_ids = torch.from_numpy(tokenizer.encode(prefix, handle_unknown=handle_unknown))
    texts: list[str] = []
    module.eval()
    chunk = rows_per_batch(module, n, len(prefix_ids) + max_length + 1)
    chars = tokenizer.chars
    forbidden, vocabulary = forbidden_pairs(chars), set(chars)
    last_id = int(prefix_ids[-1]) if len(prefix_ids) else BOUNDARY_ID
    for start in range(0, n, chunk):
        rows = sample(
            new_decoder(),
            prefix_ids,
            min(chunk, n - start),
            max_length,
            stop_at_boundary=document,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            generator=generator,
            forbidden=forbidden,
            last_id=last_id,
        )
        for row in rows:
            continuation = tokenizer.decode(row)
            text = prefix + continuation
            texts.append(
                text if forbidden is None else nfc_in_vocabulary(prefix, continuation, vocabulary)
            )
    return texts
