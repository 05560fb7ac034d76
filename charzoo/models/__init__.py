"""Built-in models, one module per architecture.

Every public module here (``mlp.py``, ``rnn.py``, ...) is one architecture and defines a
``charzoo_register_models`` hook implementation; the registry loads each of them as an internal
plugin, exactly like a third-party plugin. Modules whose name starts with ``_`` are helpers
beside the architectures (the n-gram counting and table, the mixture's mathematics and member
handling, as timm's ``_registry.py`` beside its models): discovery skips them, so ``charzoo
plugins`` lists only modules that register models.
"""

from __future__ import annotations

import pkgutil

__all__ = ["builtin_plugin_modules"]


def builtin_plugin_modules() -> list[str]:
    """Import names of the built-in model modules (not the ``_``-prefixed helpers), sorted."""
    return sorted(
        f"{__name__}.{info.name}"
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    )
