"""Saving and loading fitted models without pickled code.

A ``.cz`` file is a ``torch.save`` archive of one dict holding only strings, numbers and
tensors::

    {"format": "charzoo", "format_version": 2, "charzoo_version": "0.1.0",
     "model": "mlp", "class": "charzoo.models.mlp.CharMLP",  # class: informational
     "package": "charzoo", "package_version": "0.1.0",
     "params": "<JSON of get_params()>", "tokenizer": "<JSON>",
     "fitted": "<JSON of the declared fitted attributes>", "state_dict": {name: tensor},
     "checksum": "<SHA-256 of every other field and every tensor>"}

A meta-model such as :class:`~charzoo.models.mixture.CharMixture` also stores ``"members"``
(each fitted member's registry name, parameters and fitted attributes as JSON) and
``"members_param"`` (its unfitted ``estimators`` as JSON); the members' tensors are in its
``state_dict`` under ``members.<name>.``, so the checksum covers them.

:func:`load_model` reads it with ``torch.load(weights_only=True)``, which refuses any pickled
object other than tensors and plain containers, and finds the class through the registry name.
It then verifies the file as a whole before building anything:

- the checksum covers the format version, the hyperparameters, the tokenizer, the fitted
  attributes and the tensors;
- the hyperparameters must pass the class's own constraints (as at ``fit``);
- the fitted attributes must be ones the model's classes declare (``_fitted_attributes``, see
  :mod:`charzoo.fitted_attributes`), each passing its validator, so a key can never shadow
  a method;
- the vocabulary must be sorted distinct single characters, and the tensors must have the
  names, shapes and dtypes of the class's module and hold no NaN (parameters: no inf either);
- a module (or submodule) with a ``table_problem()`` method checks its stored state: n-gram
  count tables (sorted keys, offsets, each context's probabilities summing to 1) and mixture
  weights (non-negative, summing to 1).

Any failure raises :class:`ModelFileError` saying what is wrong: not a charzoo model file,
corrupted (checksum mismatch), unsafe (pickled objects), too new, or which field is invalid.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from charzoo.fitted_attributes import declared_fitted_attributes
from charzoo.fitted_state import record_structure
from charzoo.model_file import (
    FORMAT_VERSION,
    ModelFileError,
    check_fitted,
    check_state,
    check_tokenizer,
    checksum,
    json_default,
    json_field,
    jsonable,
    payload_header,
    read_payload,
    write_atomic,
)
from charzoo.param_values import plain_params
from charzoo.utils import check_device, fallback_device

if TYPE_CHECKING:
    from charzoo.base import CharLM

__all__ = ["FORMAT_VERSION", "ModelFileError", "load_model", "save_model"]


def save_model(model: CharLM, path: str | os.PathLike) -> None:
    """Write a fitted ``model`` to ``path`` atomically (temp file, fsync, rename; see
    :func:`charzoo.model_file.write_atomic`)."""
    from charzoo.registry import registered_name

    if not hasattr(model, "module_"):
        raise ValueError(f"{type(model).__name__} is not fitted yet; call fit before save")
    info = registered_name(type(model))
    if info is None:
        raise ValueError(
            f"{type(model).__qualname__} is not registered with charzoo, so load() could not "
            "find it again; register it through a charzoo_register_models hook"
        )
    params = {}
    members_param = getattr(model, "_members_param", None)  # meta-models: see _describe_members
    given = model.get_params(deep=False)
    given.pop(members_param, None)
    for key, value in plain_params(given, type(model).__name__).items():
        if jsonable(value):
            params[key] = value
        elif value is not None:
            warnings.warn(
                f"parameter {key}={value!r} cannot be stored safely and is saved as None",
                UserWarning,
                stacklevel=3,
            )
            params[key] = None
    _check_loadable(type(model), params, type(model).__name__)
    state = {k: v.detach().cpu().contiguous() for k, v in model.module_.state_dict().items()}
    parameters = dict(model.module_.named_parameters())
    for key, tensor in state.items():  # count tables may hold -inf log-probabilities, never NaN
        bad = torch.isnan(tensor) if key not in parameters else ~torch.isfinite(tensor)
        if tensor.is_floating_point() and bool(bad.any()):
            raise ValueError(f"refusing to save non-finite weights ({key})")
    fitted = {
        a: getattr(model, a) for a in declared_fitted_attributes(type(model)) if hasattr(model, a)
    }
    payload = {
        **payload_header(model, info, params),
        "fitted": json.dumps(fitted, default=json_default),
        "state_dict": state,
    }
    if members_param is not None:
        payload["members"] = _describe_members(model)
        payload["members_param"] = json.dumps(_spec(getattr(model, members_param)))
    payload["checksum"] = checksum(payload)
    write_atomic(payload, Path(path))


def _check_loadable(cls: type, params: dict, what: str) -> None:
    """Refuse to write parameters that load would refuse (a save never writes a file that
    cannot be loaded)."""
    try:
        cls(**params)._validate_params(device=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot save {what}: its parameters as stored would not load ({exc}); pass "
            "plain int, float, bool or str values"
        ) from None


def _describe_members(model: CharLM) -> list[dict]:
    """Nested-member entries of a meta-model (such as ``CharMixture``): each member's registry
    name, parameters and fitted attributes as JSON strings. A meta-model declares
    ``_members_param`` (its parameter holding the members, rebuilt on load), lists its fitted
    members with ``_fitted_members()`` and restores them with ``_set_fitted_members(...)``;
    the members share its tokenizer, and their tensors are in its ``module_`` state dict."""
    from charzoo.registry import registered_name

    entries = []
    for name, member in model._fitted_members():
        info = registered_name(type(member))
        if info is None:
            raise ValueError(
                f"member {name!r} ({type(member).__qualname__}) is not registered with charzoo, "
                "so load() could not find it again"
            )
        params = member.get_params(deep=False)
        params.pop(getattr(member, "_members_param", None), None)
        params = plain_params(params, f"member {name!r}")
        params = {k: v if jsonable(v) else None for k, v in params.items()}
        _check_loadable(type(member), params, f"member {name!r}")
        fitted = {
            a: getattr(member, a)
            for a in declared_fitted_attributes(type(member))
            if hasattr(member, a)
        }
        entry = {
            "name": name,
            "model": info.name,
            "package": info.package,
            "package_version": info.version,
            "params": json.dumps(params),
            "fitted": json.dumps(fitted, default=json_default),
        }
        if hasattr(member, "_members_param"):
            entry["members"] = _describe_members(member)
            entry["members_param"] = _spec(getattr(member, member._members_param))
        entries.append(entry)
    return entries


def _restore_members(model: CharLM, entries: list[dict], device: str | None, path: Path) -> None:
    """Rebuild the unfitted-module members described by :func:`_describe_members`."""
    from charzoo.registry import get_model_class

    members = []
    for entry in entries:
        try:
            cls = get_model_class(entry["model"])
        except ValueError:
            raise ValueError(
                f"member {entry['name']!r} is a {entry['model']!r} model from package "
                f"{entry.get('package', '?')!r}, which is not installed"
            ) from None
        params = json.loads(entry["params"])
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise ValueError(f"member {entry['name']!r} has no hyperparameter(s) {unknown}")
        member = cls(**params)
        if device is not None:
            member.set_params(device=device)
        member.tokenizer_ = model.tokenizer_
        for key, value in check_fitted(json.loads(entry["fitted"]), path, cls).items():
            setattr(member, key, value)
        if "members" in entry:
            _restore_members(member, entry["members"], device, path)
            member.set_params(**{member._members_param: _from_spec(entry["members_param"])})
        record_structure(member)
        members.append((entry["name"], member))
    model._set_fitted_members(members)


def _spec(members: object) -> list | None:
    """JSON form of a meta-model's members parameter (None or unfitted (name, model) pairs)."""
    from charzoo.registry import registered_name

    if members is None:
        return None
    out = []
    for name, member in members:
        info = registered_name(type(member))
        if info is None:
            raise ValueError(f"member {name!r} is not registered with charzoo; cannot save it")
        params = member.get_params(deep=False)
        nested = params.pop(getattr(member, "_members_param", None), None)
        params = plain_params(params, f"member {name!r}")
        params = {k: v if jsonable(v) else None for k, v in params.items()}
        entry = {"name": name, "model": info.name, "params": params}
        if hasattr(member, "_members_param"):
            entry["members_param"] = _spec(nested)
        out.append(entry)
    return out


def _from_spec(spec: list | None) -> list | None:
    """The unfitted (name, model) pairs written by :func:`_spec`."""
    from charzoo.registry import get_model_class

    if spec is None:
        return None
    members = []
    for entry in spec:
        cls = get_model_class(entry["model"])
        known = set(cls._get_param_names())
        member = cls(**{k: v for k, v in entry["params"].items() if k in known})
        if "members_param" in entry:
            member.set_params(**{member._members_param: _from_spec(entry["members_param"])})
        members.append((entry["name"], member))
    return members


def load_model(path: str | os.PathLike, device: str | None = None) -> CharLM:
    """Load a model written by :meth:`CharLM.save`.

    Parameters
    ----------
    path : str or path-like
    device : str, optional
        Where to put the weights (it must exist on this machine). Default: the model's
        ``device`` parameter; when that device does not exist here (a model trained on a GPU,
        loaded on a CPU-only machine), the model goes to the CPU with one warning.

    Returns
    -------
    CharLM
        The fitted estimator; it scores and generates exactly as the saved one.

    Raises
    ------
    ModelFileError
        The file is not a charzoo model, is corrupted (checksum mismatch), holds pickled
        objects, was written by a newer charzoo, or holds invalid hyperparameters, fitted
        attributes, vocabulary or tensors (the message names which).
    """
    from charzoo.registry import get_model_class

    path = Path(path)
    target = None if device is None else check_device(device)
    payload = read_payload(path)
    name = payload["model"]
    try:
        cls = get_model_class(name)
    except ValueError:
        from charzoo.registry import explain_missing_model

        package = payload.get("package", "?")
        raise ModelFileError(
            f"cannot load {path}: it holds a {name!r} model from package {package!r} "
            f"{payload.get('package_version', '')}, {explain_missing_model(name, package)}"
        ) from None
    if payload.get("kind") == "classifier":  # a CharLMClassifier: one model per class
        from charzoo.classifier_file import load_classifier

        return load_classifier(cls, payload, path, device)
    params = json_field(payload, "params", path)
    if not isinstance(params, dict):
        raise ModelFileError(f"cannot load {path}: its 'params' field is not a record")
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise ModelFileError(
            f"cannot load {path}: {cls.__name__} has no hyperparameter(s) {unknown}; the file "
            "was edited or written for another model"
        )
    model = cls(**params)
    if "members" in payload:  # a meta-model (CharMixture): rebuild its fitted members first
        model.tokenizer_ = check_tokenizer(json_field(payload, "tokenizer", path), path)
        try:
            _restore_members(model, payload["members"], device, path)
            spec = _from_spec(json_field(payload, "members_param", path))
            model.set_params(**{model._members_param: spec})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"cannot load {path}: invalid members: {exc}") from None
    try:
        model._validate_params(device=False)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"cannot load {path}: invalid hyperparameter: {exc}") from None
    model.tokenizer_ = check_tokenizer(json_field(payload, "tokenizer", path), path)
    for key, value in check_fitted(json_field(payload, "fitted", path), path, cls).items():
        setattr(model, key, value)
    try:
        module = model._build_module()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"cannot load {path}: its contents do not fit {name!r}: {exc}"
        ) from None
    check_state(module, payload["state_dict"], path)
    try:
        module.load_state_dict(payload["state_dict"], assign=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"cannot load {path}: its tensors do not fit {name!r}: {exc}"
        ) from None
    for part in module.modules():  # count tables and mixture weights check themselves
        problem = part.table_problem() if hasattr(part, "table_problem") else None
        if problem:
            raise ModelFileError(f"cannot load {path}: {problem}; the file is damaged")
    if target is None:
        target = fallback_device(model.device, f"{type(model).__name__} in {path}")
    if device is not None:
        model.set_params(device=device)
    model.module_ = module.to(target).eval()
    record_structure(model)
    return model
