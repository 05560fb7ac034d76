"""The memory check before a neural fit.

Before a fresh fit allocates anything, :meth:`NeuralMixin._check_size` builds the module on
PyTorch's ``"meta"`` device (shapes, no data) and runs one training batch through it there, to
estimate the memory the fit needs: 4 x the parameter bytes (weights, gradients and AdamW's two
moments) plus the bytes of every tensor one training batch's forward pass creates (an upper
bound of the activations kept for the backward pass) and of the batch's id tensors. A module
that cannot run on the meta device is measured on a real two-row batch instead, scaled to
``batch_size`` rows. A fit whose estimate exceeds the memory available on its device, or
whose module has more than :data:`MAX_MODULES` submodules or parameter tensors, is refused with
a ``ValueError`` (:class:`ModelTooLargeError`) giving the figure. Every neural model, plugins
included, gets this check.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = [
    "MAX_MODULES",
    "ModelTooLargeError",
    "estimate_fit_memory",
    "activation_bytes",
    "format_bytes",
]

MAX_MODULES = 10_000  # submodules (or parameter tensors) a model may have: ~800 Transformer blocks


class ModelTooLargeError(ValueError):
    """A model's hyperparameters ask for more memory (or modules) than charzoo allows."""


class _Abort(Exception):
    pass


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover


def estimate_fit_memory(
    build: Callable[[], torch.nn.Module],
    forward: Callable[[torch.nn.Module], object] | None,
    budget: float,
    max_modules: int | None = None,
) -> tuple[int, int, int]:
    """Parameter count, parameter bytes and activation bytes of a fit, measured on "meta".

    Registration hooks count every parameter, buffer and submodule as the module is built;
    the build stops as soon as 4 x the parameter bytes exceed ``budget`` (the activation
    figure is then 0) or the module count exceeds ``max_modules`` (default
    :data:`MAX_MODULES`; the activation figure is then -1), so a request for terabytes or a
    million layers is refused without building it.

    Returns
    -------
    n_params, param_bytes, activation_bytes : int
        ``activation_bytes`` is None when the module cannot run on the meta device.
    """
    from torch.nn.modules import module as module_hooks

    max_modules = MAX_MODULES if max_modules is None else max_modules
    counts = {"params": 0, "bytes": 0, "modules": 0, "tensors": 0}

    def on_parameter(module, name, param):
        if param is not None:
            counts["tensors"] += 1
            if counts["tensors"] > max_modules:  # fused layers (nn.RNN) are one module
                raise _Abort("modules")
            counts["params"] += param.numel()
            counts["bytes"] += param.numel() * param.element_size()
            if 4 * counts["bytes"] > budget:
                raise _Abort("bytes")
        return None

    def on_buffer(module, name, buffer):
        if buffer is not None:
            counts["bytes"] += buffer.numel() * buffer.element_size()
        return None

    def on_module(module, name, submodule):
        counts["modules"] += 1
        if counts["modules"] > max_modules:
            raise _Abort("modules")
        return None

    handles = [
        module_hooks.register_module_parameter_registration_hook(on_parameter),
        module_hooks.register_module_buffer_registration_hook(on_buffer),
        module_hooks.register_module_module_registration_hook(on_module),
    ]
    try:
        with torch.device("meta"):
            module = build()
    except _Abort as exc:
        return counts["params"], counts["bytes"], -1 if str(exc) == "modules" else 0
    finally:
        for handle in handles:
            handle.remove()
    activations = 0
    if forward is not None:
        try:
            activations = activation_bytes(module, forward)
        except Exception:  # noqa: BLE001 - cannot run on meta (e.g. calls .item()): unknown
            activations = None
    return counts["params"], counts["bytes"], activations


def activation_bytes(module: torch.nn.Module, forward: Callable) -> int:
    """Bytes of every non-view tensor created by ``forward(module)`` on the meta device."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not getattr(func, "is_view", False):
                for t in tree_flatten(out)[0]:
                    if isinstance(t, torch.Tensor):
                        Count.total += t.numel() * t.element_size()
            return out

    with torch.no_grad(), Count():
        forward(module)
    return Count.total
