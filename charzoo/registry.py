"""The model registry, filled through pluggy by built-in and third-party plugins.

Built-in model modules (:mod:`charzoo.models`) and every entry point of the ``charzoo`` group
are loaded as plugins, each on its own: a plugin that fails to import, implements a hook
charzoo does not define (a misspelled ``@hookimpl``), raises in its hook, registers something
that is not a model class or claims a name already taken is reported with a
:class:`PluginWarning` naming it, and the rest of the zoo keeps working.

Operator switches (in the style of pytest's):

- ``CHARZOO_DISABLE_PLUGIN_AUTOLOAD=1`` loads no entry points (built-ins only);
- ``CHARZOO_BLOCK_PLUGINS=name1,name2`` skips the named entry points or distributions.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
import re
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from charzoo import hookspecs
from charzoo._version import __version__
from charzoo.base import CharLM
from charzoo.models import builtin_plugin_modules

__all__ = [
    "ENTRY_POINT_GROUP",
    "ModelInfo",
    "PluginInfo",
    "PluginWarning",
    "create_model",
    "explain_missing_model",
    "get_model_class",
    "list_models",
    "list_plugins",
    "model_info",
    "reload_plugins",
]

ENTRY_POINT_GROUP = "charzoo"
DISABLE_AUTOLOAD_ENV = "CHARZOO_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_ENV = "CHARZOO_BLOCK_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin could not be loaded or registered a model incorrectly."""


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its name, class, description and the plugin providing it."""

    name: str
    cls: type
    description: str
    plugin: str
    package: str
    version: str


@dataclass
class PluginInfo:
    """A plugin found at start-up: where it comes from, what it registered, how it failed."""

    name: str
    package: str
    version: str
    builtin: bool
    models: list[str] = field(default_factory=list)
    error: str | None = None
    blocked: bool = False


class Registry:
    """Loads plugins and holds the name → model mapping. Use the module functions instead."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager("charzoo")
        self.manager.add_hookspecs(hookspecs)
        self.models: dict[str, ModelInfo] = {}
        #: classifiers built from models (CharLMClassifier): fitted and saved like models,
        #: but not language models, so ``list_models`` leaves them out
        self.classifiers: dict[str, ModelInfo] = {}
        self.plugins: dict[str, PluginInfo] = {}

    def load(self) -> Registry:
        for module_name in [*builtin_plugin_modules(), "charzoo.classifier"]:
            info = PluginInfo(module_name, "charzoo", __version__, builtin=True)
            self._add_plugin(info, lambda name=module_name: importlib.import_module(name))
        if not os.environ.get(DISABLE_AUTOLOAD_ENV):
            blocked = {_canonical(b) for b in os.environ.get(BLOCK_ENV, "").split(",") if b.strip()}
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep, "dist", None)
                package = dist.name if dist is not None else "?"
                version = dist.version if dist is not None else "?"
                # entry-point names are only unique within a package
                name = ep.name if ep.name not in self.plugins else f"{package}:{ep.name}"
                info = PluginInfo(name, package, version, builtin=False)
                if _canonical(ep.name) in blocked or _canonical(package) in blocked:
                    info.blocked = True
                    self.plugins[info.name] = info
                    continue
                self._add_plugin(info, ep.load)
        for impl in self.manager.hook.charzoo_register_models.get_hookimpls():
            info = self.plugins[impl.plugin_name]
            try:
                impl.function(register=self._registrar(info))
            except Exception as exc:  # a broken plugin must not break the zoo
                self._fail(info, f"its charzoo_register_models hook raised {exc!r}")
        return self

    def _add_plugin(self, info: PluginInfo, load) -> None:
        self.plugins[info.name] = info
        try:
            plugin = load()
            self.manager.register(plugin, name=info.name)
        except Exception as exc:  # import errors, bad hook signatures, ...
            self._fail(info, f"it failed to load: {exc!r}")
            return
        try:
            # every plugin registered before this one passed, so a failure is this plugin's
            self.manager.check_pending()
        except pluggy.PluginValidationError:
            unknown = self._unknown_hooks(plugin)
            self.manager.unregister(plugin)
            self._fail(info, f"it implements {_unknown_hooks_text(unknown, self._known_hooks())}")

    def _known_hooks(self) -> list[str]:
        return sorted(n for n, c in self._hook_callers() if c.has_spec())

    def _hook_callers(self) -> list[tuple[str, pluggy.HookCaller]]:
        return [(n, c) for n, c in vars(self.manager.hook).items() if not n.startswith("_")]

    def _unknown_hooks(self, plugin: object) -> list[str]:
        """Names of the hooks ``plugin`` implements that no hook specification defines."""
        return sorted(
            name
            for name, caller in self._hook_callers()
            if not caller.has_spec()
            and any(
                impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls()
            )
        )

    def _fail(self, info: PluginInfo, reason: str) -> None:
        info.error = reason if info.error is None else f"{info.error}; {reason}"
        warnings.warn(
            f"charzoo plugin {info.name!r} (package {info.package} {info.version}) was "
            f"skipped: {reason}",
            PluginWarning,
            stacklevel=2,
        )

    def _registrar(self, plugin: PluginInfo):
        def register(cls: type, name: str | None = None, description: str | None = None) -> None:
            from charzoo.classifier import CharLMClassifier

            if isinstance(cls, type) and issubclass(cls, CharLMClassifier):
                key = name or cls.__name__.lower()
                about = description or ""
                info = ModelInfo(key, cls, about, plugin.name, plugin.package, plugin.version)
                self.classifiers[key] = info
                plugin.models.append(key)  # `charzoo plugins` shows what it registered
                return
            if not (isinstance(cls, type) and issubclass(cls, CharLM)):
                self._fail(plugin, f"it registered {cls!r}, which is not a CharLM subclass")
                return
            name = name or cls.__name__.lower()
            if not isinstance(name, str) or not name.strip():
                self._fail(plugin, f"it registered {cls.__name__} under an invalid name {name!r}")
                return
            taken = self.models.get(name)
            if taken is not None:
                self._fail(
                    plugin,
                    f"model name {name!r} is already taken by plugin {taken.plugin!r} "
                    f"(package {taken.package})",
                )
                return
            doc = (cls.__doc__ or "").strip().splitlines()
            description = description or (doc[0] if doc else "")
            self.models[name] = ModelInfo(
                name, cls, description, plugin.name, plugin.package, plugin.version
            )
            plugin.models.append(name)

        return register


def _unknown_hooks_text(unknown: list[str], known: list[str]) -> str:
    """The warning's account of unknown hooks, with the nearest defined name for each."""
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    noun = "hook" if len(unknown) == 1 else "hooks"
    return (
        f"{noun} {', '.join(parts)}, which charzoo does not define; charzoo calls only "
        f"{', '.join(known)} (check the spelling of the @charzoo.hookimpl functions)"
    )


def _canonical(name: str) -> str:
    """Package/plugin name compared the way pip does: case and ``-``/``_``/``.`` ignored."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


_registry: Registry | None = None


def _get_registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = Registry().load()
    return _registry


def reload_plugins() -> None:
    """Forget the loaded plugins; the next registry call discovers them again."""
    global _registry
    _registry = None


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models matching a shell-style ``pattern``, sorted.

    Parameters
    ----------
    pattern : str, default="*"
        Wildcard pattern such as ``"char*"`` or ``"*gru*"``.

    Returns
    -------
    list of str
    """
    return sorted(n for n in _get_registry().models if fnmatch.fnmatchcase(n, pattern))


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model (raises ``ValueError`` if unknown)."""
    registry = _get_registry()
    try:
        return registry.models[name]
    except KeyError:
        if name in registry.classifiers:
            return registry.classifiers[name]
        available = ", ".join(sorted(registry.models)) or "none"
        failed = [p for p in registry.plugins.values() if p.error]
        hint = ""
        if failed:
            hint = "; plugins that failed to load (see `charzoo plugins`): " + ", ".join(
                f"{p.name} (package {p.package})" for p in failed
            )
        raise ValueError(f"unknown model {name!r}; available models: {available}{hint}") from None


def get_model_class(name: str) -> type:
    """The estimator class registered under ``name``."""
    return model_info(name).cls


def create_model(name: str, **params: object) -> CharLM:
    """Create the model registered under ``name`` with the given hyperparameters.

    Examples
    --------
    >>> from charzoo import create_model
    >>> create_model("mlp", block_size=4)
    CharMLP(block_size=4)
    """
    return get_model_class(name)(**params)


def list_plugins() -> list[PluginInfo]:
    """Every plugin found (built-in, third-party, blocked or failed), in load order."""
    return list(_get_registry().plugins.values())


def registered_name(cls: type) -> ModelInfo | None:
    """The :class:`ModelInfo` under which ``cls`` is registered, if any."""
    registry = _get_registry()
    for info in [*registry.models.values(), *registry.classifiers.values()]:
        if info.cls is cls:
            return info
    return None


def explain_missing_model(name: str, package: str) -> str:
    """Why no model ``name`` from ``package`` is registered, and the fix (for error messages).

    Returns the end of a sentence starting "... a model from package P": an installed plugin
    package that failed to import (or whose hook raised) is named with its error, so the advice
    is to fix that package rather than to install it again; a blocked package or switched-off
    autoloading is named as such; only a package that is not installed at all gets the
    ``pip install`` advice.
    """
    registry = _get_registry()
    wanted = _canonical(package)
    mine = [p for p in registry.plugins.values() if _canonical(p.package) == wanted]
    failed = [p for p in mine if p.error]
    if failed:
        errors = "; ".join(f"plugin {p.name!r} {p.error}" for p in failed)
        return (
            f"which is installed ({failed[0].version}) but failed to load: {errors}. Fix or "
            "reinstall that package (`charzoo plugins` shows every plugin's status)"
        )
    if any(p.blocked for p in mine):
        return f"which is installed but blocked by {BLOCK_ENV}"
    if mine:
        models = ", ".join(sorted(m for p in mine for m in p.models)) or "none"
        return (
            f"which is installed ({mine[0].version}) but registers no model {name!r} (its "
            f"models: {models}); install the version that wrote the file"
        )
    if os.environ.get(DISABLE_AUTOLOAD_ENV) and wanted != "charzoo":
        return f"whose plugins are not loaded because {DISABLE_AUTOLOAD_ENV} is set"
    return f"which is not installed; install it with `pip install {package}`"
