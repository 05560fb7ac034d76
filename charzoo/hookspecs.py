"""Hook specifications: the contract between charzoo and its model plugins.

A plugin is a module (or object) with functions marked ``@charzoo.hookimpl``; a package makes it
discoverable through the ``charzoo`` entry-point group::

    [project.entry-points.charzoo]
    my_models = "my_package.plugin"

Built-in models are registered through the very same hook.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("charzoo")
hookimpl = pluggy.HookimplMarker("charzoo")


@hookspec
def charzoo_register_models(register: Callable[..., None]) -> None:
    """Register model classes with charzoo.

    Call ``register(cls, name=None, description=None)`` once per model: ``cls`` is a subclass
    of :class:`charzoo.base.CharLM`; ``name`` is the short registry name used by
    :func:`charzoo.create_model`, the CLI and saved files (default: the class name in lower
    case); ``description`` is a one-line summary (default: the first docstring line).

    Examples
    --------
    ::

        @charzoo.hookimpl
        def charzoo_register_models(register):
            register(CharMinGRU, name="mingru", description="minGRU (Feng et al. 2024)")
    """
