"""Built-in models, one module per architecture.

Every module here defines a ``charzoo_register_models`` hook implementation; the registry
loads each of them as an internal plugin, exactly like a third-party plugin.
"""

from __future__ import annotations

import pkgutil

__all__ = ["builtin_plugin_modules"]


def builtin_plugin_modules() -> list[str]:
    """Import names of the built-in model modules, sorted."""
    return sorted(f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__))
