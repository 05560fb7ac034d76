"""Named hyperparameter settings of a model class: ``Model.presets`` and
``Model.from_preset(name, **overrides)``, the one preset mechanism of every model.

A preset is a documented configuration (the settings of a benchmark, such as ``"names"`` or
``"shakespeare"``) that the CLI offers as ``charzoo fit MODEL DATA --preset NAME`` and lists
with ``charzoo models --presets``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["PresetsMixin"]


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
