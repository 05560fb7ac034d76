"""Saving and loading a :class:`~charzoo.classifier.CharLMClassifier` as one ``.cz`` file.

The file is a charzoo model file (:mod:`charzoo.persistence`) with ``"kind": "classifier"``:
its class models are stored the way a :class:`~charzoo.models.mixture.CharMixture` stores its
members (``"members"``: each one's registry name, parameters and fitted attributes as JSON;
their tensors in ``state_dict`` under ``members.class<k>.``), next to the classifier's own
fields: ``"classes"`` (the labels, JSON), ``"estimator"`` (the unfitted ``estimator``
parameter) and the tensors ``calibration.log_prior``, ``calibration.bias`` and
``calibration.coef``. The checksum covers every field and tensor; loading never
unpickles code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from charzoo.model_file import (
    ModelFileError,
    check_state,
    check_tokenizer,
    checksum,
    json_field,
    jsonable,
    payload_header,
    write_atomic,
)
from charzoo.param_values import plain_params
from charzoo.utils import check_device, fallback_device

if TYPE_CHECKING:
    from charzoo.classifier import CharLMClassifier

__all__ = ["KIND", "load_classifier", "save_classifier"]

KIND = "classifier"
_CALIBRATION = ("log_prior", "bias", "coef")


def save_classifier(model: CharLMClassifier, path: str | os.PathLike) -> None:
    """Write a fitted classifier to ``path`` atomically."""
    from sklearn.utils.validation import check_is_fitted

    from charzoo.persistence import _describe_members, _spec
    from charzoo.registry import registered_name

    check_is_fitted(model, "estimators_")
    info = registered_name(type(model))
    if info is None:
        raise ValueError(f"{type(model).__qualname__} is not registered with charzoo")
    classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    if not all(isinstance(c, (str, int, bool)) for c in classes):
        raise ValueError(
            f"classes_ {classes[:5]} cannot be stored in a model file: use str or int labels"
        )
    params = model.get_params(deep=False)
    estimator = params.pop("estimator")
    if params["priors"] is not None:
        params["priors"] = np.asarray(params["priors"], dtype=np.float64).tolist()
    params = plain_params(params, type(model).__name__)
    unstorable = sorted(k for k, v in params.items() if not jsonable(v))
    if unstorable:
        raise ValueError(
            f"cannot save {type(model).__name__}: parameter(s) {', '.join(unstorable)} hold "
            "values a model file cannot store (use plain numbers, strings or lists)"
        )
    state = {}
    for name, member in model._fitted_members():
        for key, tensor in member.module_.state_dict().items():
            state[f"members.{name}.{key}"] = tensor.detach().cpu().contiguous()
    calibration = {
        "log_prior": model.class_log_prior_,
        "bias": model.bias_,
        "coef": model.coef_,
    }
    for key, value in calibration.items():
        state[f"calibration.{key}"] = torch.as_tensor(np.asarray(value, dtype=np.float64))
    payload = {
        **payload_header(model, info, params),
        "kind": KIND,
        "fitted": json.dumps({"classes": classes}),
        "members": _describe_members(model),
        "estimator": json.dumps(None if estimator is None else _spec([("estimator", estimator)])),
        "state_dict": state,
    }
    payload["checksum"] = checksum(payload)
    write_atomic(payload, Path(path))


def load_classifier(
    cls: type, payload: dict, path: Path, device: str | None = None
) -> CharLMClassifier:
    """Rebuild the classifier of a verified ``payload`` (see :func:`charzoo.load`)."""
    from charzoo.persistence import _from_spec, _restore_members

    if device is not None:
        check_device(device)
    params = json_field(payload, "params", path)
    if not isinstance(params, dict) or set(params) - set(cls._get_param_names()):
        raise ModelFileError(f"cannot load {path}: its 'params' field does not fit {cls.__name__}")
    model = cls(**params)
    try:
        spec = json_field(payload, "estimator", path)
        model.set_params(estimator=None if spec is None else _from_spec(spec)[0][1])
        model._validate_params()
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"cannot load {path}: invalid hyperparameter: {exc}") from None
    fitted = json_field(payload, "fitted", path)
    classes = fitted.get("classes") if isinstance(fitted, dict) else None
    if not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ModelFileError(f"cannot load {path}: its class labels are missing or invalid")
    model.tokenizer_ = check_tokenizer(json_field(payload, "tokenizer", path), path)
    entries = payload.get("members")
    if not isinstance(entries, list) or len(entries) != len(classes):
        raise ModelFileError(f"cannot load {path}: it needs one class model per class")
    try:
        _restore_members(model, entries, device, path)
        modules = {}
        for name, member in model._fitted_members():
            member.module_ = member._build_module()
            modules[name] = member.module_
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ModelFileError(f"cannot load {path}: invalid class models: {exc}") from None
    container = _Container(modules, len(classes))
    check_state(container, payload["state_dict"], path)
    try:
        container.load_state_dict(payload["state_dict"], assign=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"cannot load {path}: its tensors do not fit: {exc}") from None
    for member in model.estimators_:
        where = device or fallback_device(member.device, f"{type(member).__name__} in {path}")
        member.module_ = member.module_.to(where).eval()
    calibration = {k: getattr(container.calibration, k).numpy() for k in _CALIBRATION}
    if not all(np.isfinite(v).all() for v in calibration.values()):
        raise ModelFileError(f"cannot load {path}: its calibration holds non-finite numbers")
    model.classes_ = np.asarray(classes)
    model.class_log_prior_ = calibration["log_prior"].copy()
    model.bias_ = calibration["bias"].copy()
    model.coef_ = calibration["coef"].copy()
    return model


class _Container(torch.nn.Module):
    """The layout of a classifier file's tensors (members and calibration), for checking."""

    def __init__(self, members: dict[str, torch.nn.Module], n_classes: int) -> None:
        super().__init__()
        self.members = torch.nn.ModuleDict(members)
        self.calibration = torch.nn.Module()
        for key in _CALIBRATION:
            size = (n_classes, n_classes) if key == "coef" else (n_classes,)
            self.calibration.register_buffer(key, torch.zeros(size, dtype=torch.float64))
