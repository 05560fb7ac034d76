"""Saving and loading fitted models without pickled code.

A ``.cz`` file is a ``torch.save`` archive of one dict holding only strings, numbers and
tensors::

    {"format": "charzoo", "format_version": 1, "charzoo_version": "0.1.0",
     "model": "mlp", "package": "charzoo", "package_version": "0.1.0",
     "params": "<JSON of get_params()>", "tokenizer": "<JSON>",
     "fitted": "<JSON of mode_, history_, n_steps_, ...>", "state_dict": {name: tensor},
     "checksum": "<SHA-256 of the tensors' bytes>"}

A meta-model such as :class:`~charzoo.models.mixture.CharMixture` also stores ``"members"``
(each fitted member's registry name, parameters and fitted attributes as JSON) and
``"members_param"`` (its unfitted ``estimators`` as JSON); the members' tensors are in its
``state_dict`` under ``members.<name>.``, so the checksum covers them.

:func:`load_model` reads it with ``torch.load(weights_only=True)``, which refuses any pickled
object other than tensors and plain containers, and finds the class through the registry name.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import torch

from charzoo._version import __version__
from charzoo.base import CharLM
from charzoo.tokenizer import CharTokenizer

__all__ = ["FORMAT_VERSION", "ModelFileError", "load_model", "save_model"]

FORMAT = "charzoo"
FORMAT_VERSION = 1
_FITTED_ATTRIBUTES = (
    "mode_",
    "max_text_length_",
    "history_",
    "n_steps_",
    "stop_reason_",
    "best_step_",
)


class ModelFileError(ValueError):
    """A file is not a readable charzoo model (wrong format, corrupted, unsafe or too new)."""


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def save_model(model: CharLM, path: str | os.PathLike) -> None:
    """Write a fitted ``model`` to ``path`` atomically (temp file, fsync, rename)."""
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
    for key, value in model.get_params(deep=False).items():
        if key == members_param:
            continue
        if _jsonable(value):
            params[key] = value
        elif value is not None:
            warnings.warn(
                f"parameter {key}={value!r} cannot be stored safely and is saved as None",
                UserWarning,
                stacklevel=3,
            )
            params[key] = None
    state = {k: v.detach().cpu().contiguous() for k, v in model.module_.state_dict().items()}
    parameters = dict(model.module_.named_parameters())
    for key, tensor in state.items():  # count tables may hold -inf log-probabilities, never NaN
        bad = torch.isnan(tensor) if key not in parameters else ~torch.isfinite(tensor)
        if tensor.is_floating_point() and bool(bad.any()):
            raise ValueError(f"refusing to save non-finite weights ({key})")
    fitted = {a: getattr(model, a) for a in _FITTED_ATTRIBUTES if hasattr(model, a)}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "charzoo_version": __version__,
        "model": info.name,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "package": info.package,
        "package_version": info.version,
        "params": json.dumps(params),
        "tokenizer": model.tokenizer_.to_json(),
        "fitted": json.dumps(fitted, default=_json_default),
        "state_dict": state,
        "checksum": _checksum(state),
    }
    if members_param is not None:
        payload["members"] = _describe_members(model)
        payload["members_param"] = json.dumps(_spec(getattr(model, members_param)))
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
        fitted = {a: getattr(member, a) for a in _FITTED_ATTRIBUTES if hasattr(member, a)}
        entry = {
            "name": name,
            "model": info.name,
            "package": info.package,
            "package_version": info.version,
            "params": json.dumps({k: v if _jsonable(v) else None for k, v in params.items()}),
            "fitted": json.dumps(fitted, default=_json_default),
        }
        if hasattr(member, "_members_param"):
            entry["members"] = _describe_members(member)
            entry["members_param"] = _spec(getattr(member, member._members_param))
        entries.append(entry)
    return entries


def _restore_members(model: CharLM, entries: list[dict], device: str | None) -> None:
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
        known = set(cls._get_param_names())
        member = cls(**{k: v for k, v in params.items() if k in known})
        if device is not None:
            member.set_params(device=device)
        member.tokenizer_ = model.tokenizer_
        for key, value in json.loads(entry["fitted"]).items():
            setattr(member, key, value)
        if "members" in entry:
            _restore_members(member, entry["members"], device)
            member.set_params(**{member._members_param: _from_spec(entry["members_param"])})
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
        params = {k: v if _jsonable(v) else None for k, v in params.items()}
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


def _checksum(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key]
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _json_default(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {value!r}")


def _read_payload(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "it contains pickled Python objects, which charzoo never loads"
        else:
            reason = f"it is corrupted, truncated or not a charzoo model ({text})"
        raise ModelFileError(f"cannot load {path}: {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"cannot load {path}: not a charzoo model file")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"cannot load {path}: written by charzoo {payload.get('charzoo_version')} in file "
            f"format {version}; this charzoo ({__version__}) reads format <= {FORMAT_VERSION}. "
            "Upgrade charzoo."
        )
    state = payload.get("state_dict")
    if not isinstance(state, dict) or payload.get("checksum") != _checksum(state):
        raise ModelFileError(f"cannot load {path}: its weights are corrupted (checksum mismatch)")
    return payload


def load_model(path: str | os.PathLike, device: str | None = None) -> CharLM:
    """Load a model written by :meth:`CharLM.save`.

    Parameters
    ----------
    path : str or path-like
    device : str, optional
        Where to put the weights; default: the model's ``device`` parameter (``"auto"``), so a
        model trained on a GPU loads on a CPU-only machine.

    Returns
    -------
    CharLM
        The fitted estimator; it scores and generates exactly as the saved one.
    """
    from charzoo.registry import get_model_class

    path = Path(path)
    payload = _read_payload(path)
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
    try:
        params = json.loads(payload["params"])
        known = set(cls._get_param_names())
        model = cls(**{k: v for k, v in params.items() if k in known})
        if device is not None:
            model.set_params(device=device)
        model.tokenizer_ = CharTokenizer.from_json(payload["tokenizer"])
        for key, value in json.loads(payload["fitted"]).items():
            setattr(model, key, value)
        if "members" in payload:
            _restore_members(model, payload["members"], device)
            spec = _from_spec(json.loads(payload["members_param"]))
            model.set_params(**{model._members_param: spec})
        module = model._build_module()
        module.load_state_dict(payload["state_dict"], assign=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"cannot load {path}: its contents do not fit {name!r}: {exc}"
        ) from None
    model.module_ = module.to(model._resolve_device()).eval()
    return model
