"""Named hyperparameter settings of a model class: ``Model.presets`` and
``Model.from_preset(name, **overrides)``, the one preset mechanism of every model.

A preset is a documented configuration (the settings of a benchmark, such as ``"names"`` or
``"shakespeare"``) that the CLI offers as ``charzoo fit MODEL DATA --preset NAME`` and lists
with ``charzoo models --presets``.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

__all__ = ["DeprecatedPreset", "PresetsMixin"]


class PresetsMixin:
    """Adds ``presets`` (name -> parameters) and :meth:`from_preset` to a model class."""

    #: Documented settings by name; a subclass defines its own dict.
    presets: ClassVar[dict[str, dict]] = {}

    @classmethod
    def from_preset(cls, name: str, **params: object):
        """A model with the parameters of preset ``name``, updated with ``params``.

        Parameters
        ----------
        name : str
            One of ``cls.presets``.
        **params
            Parameters set on top of the preset's.

        Returns
        -------
        CharLM
            An unfitted model.
        """
        if name not in cls.presets:
            known = ", ".join(sorted(cls.presets)) or "none"
            raise ValueError(f"{cls.__name__} has no preset {name!r}; its presets: {known}")
        return cls(**{**cls.presets[name], **params})


class DeprecatedPreset:
    """A class attribute that returns ``presets[name]`` with a ``FutureWarning`` (the old
    ``ZOO_PRESET`` dicts, kept for one release)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, instance: object, owner: type) -> dict:
        warnings.warn(
            f"{owner.__name__}.{self.attribute} is deprecated and will be removed in the next "
            f"release; use {owner.__name__}.presets[{self.name!r}] or "
            f"{owner.__name__}.from_preset({self.name!r})",
            FutureWarning,
            stacklevel=2,
        )
        return dict(owner.presets[self.name])
