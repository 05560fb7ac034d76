"""Pickling (and joblib) of fitted models: the module travels on the CPU, so the file loads
on any machine, and returns to its device (or an available one, with one warning) on load."""

from __future__ import annotations

import copy

import torch

from charzoo.utils import fallback_device, module_device

__all__ = ["PortablePickleMixin"]


class PortablePickleMixin:
    """``__getstate__``/``__setstate__`` moving ``module_`` to the CPU and back (mix in before
    scikit-learn's ``BaseEstimator``)."""

    def __getstate__(self) -> dict:
        """Pickle (and joblib) with the module on the CPU, so the file loads anywhere."""
        state = super().__getstate__()
        module = state.get("module_")
        if isinstance(module, torch.nn.Module) and module_device(module).type != "cpu":
            state = dict(state)
            state["module_"] = copy.deepcopy(module).cpu()
            state["_pickled_device"] = str(module_device(module))
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        pickled_device = state.pop("_pickled_device", None)
        super().__setstate__(state)
        if pickled_device is not None and isinstance(state.get("module_"), torch.nn.Module):
            wanted = pickled_device if self.device == "auto" else self.device
            target = fallback_device(wanted, type(self).__name__)
            self.module_ = self.module_.to(target)
