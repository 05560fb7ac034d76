"""Saving and loading fitted models without pickled code.

A ``.cz`` file is a ``torch.save`` archive of one dict holding only strings, numbers and
tensors::

    {"format": "charzoo", "format_version": 2, "charzoo_version": "0.1.0",
     "model": "mlp", "package": "charzoo", "package_version": "0.1.0",
     "params": "<JSON of get_params()>", "tokenizer": "<JSON>",
     "fitted": "<JSON of mode_, history_, n_steps_, ...>", "state_dict": {name: tensor},
     "checksum": "<SHA-256 of every other field and every tensor>"}

A meta-model such as :class:`~charzoo.models.mixture.CharMixture` also stores ``"members"``
(each fitted member's registry name, parameters and fitted attributes as JSON) and
``"members_param"`` (its unfitted ``estimators`` as JSON); the members' tensors are in its
``state_dict`` under ``members.<name>.``, so the checksum covers them.

:func:`load_model` reads it with ``torch.load(weights_only=True)``, which refuses any pickled
object other than tensors and plain containers, and finds the class through the registry name.
It then verifies the file as a whole before building anything:

- the checksum covers the format version, the hyperparameters, the tokenizer, the fitted
  attributes and the tensors (format 1 files, written by charzoo before this change, carry a
  checksum of the tensors only and are verified with it);
- the hyperparameters must pass the class's own constraints (as at ``fit``);
- the fitted attributes must be the ones charzoo writes (an allow-list, each with a type and a
  plausible range), so a key can never shadow a method;
- the vocabulary must be sorted distinct single characters, and the tensors must have the
  names, shapes and dtypes of the class's module and hold no NaN (parameters: no inf either).

Any failure raises :class:`ModelFileError` saying what is wrong: not a charzoo model file,
corrupted (checksum mismatch), unsafe (pickled objects), too new, or which field is invalid.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import torch

from charzoo._version import __version__
from charzoo.base import CharLM
from charzoo.tokenizer import CharTokenizer
from charzoo.utils import check_device, fallback_device

__all__ = ["FORMAT_VERSION", "ModelFileError", "load_model", "save_model"]

FORMAT = "charzoo"
FORMAT_VERSION = 2  # 2: the checksum covers the whole payload (1: the tensors only)
_FITTED_ATTRIBUTES = (
    "mode_",
    "max_text_length_",
    "history_",
    "n_steps_",
    "stop_reason_",
    "best_step_",
)
MAX_TEXT_LENGTH = 10**10  # the longest text a plausible file records (characters)
_HISTORY_KEYS = ("step", "train_loss", "val_loss", "lr")
_STALE_TMP_SECONDS = 600  # temp files of a save without a pid older than this are removed


class ModelFileError(ValueError):
    """A file is not a readable charzoo model (wrong format, corrupted, unsafe or too new)."""


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def save_model(model: CharLM, path: str | os.PathLike) -> None:
    """Write a fitted ``model`` to ``path`` atomically (temp file, fsync, rename).

    The file gets the permissions of a plain new file (``0666`` minus the umask) or, when it
    replaces one, the permissions of the old file. Temp files left by an earlier save of the
    same target that was killed (``kill -9``) are removed.
    """
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
    }
    if members_param is not None:
        payload["members"] = _describe_members(model)
        payload["members_param"] = json.dumps(_spec(getattr(model, members_param)))
    payload["checksum"] = _checksum(payload)
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    _remove_stale_temp_files(directory, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.chmod(tmp, _new_file_mode(path))
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
        for key, value in _check_fitted(json.loads(entry["fitted"]), path).items():
            setattr(member, key, value)
        if "members" in entry:
            _restore_members(member, entry["members"], device, path)
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


def _new_file_mode(path: Path) -> int:
    """The mode the saved file gets: the old file's, or 0666 minus the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_stale_temp_files(directory: Path, name: str) -> None:
    """Remove ``.NAME.*.tmp`` files whose writing process is gone (a save killed midway)."""
    pattern = re.compile(r"^\." + re.escape(name) + r"\.(?:(\d+)-)?[^/]*\.tmp$")
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if not match:
            continue
        pid = match.group(1)
        try:
            if pid is not None:
                if int(pid) == os.getpid() or _alive(int(pid)):
                    continue
            elif time.time() - entry.stat().st_mtime < _STALE_TMP_SECONDS:
                continue  # an older charzoo's save may still be writing it
            entry.unlink()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _tensor_checksum(state: dict[str, torch.Tensor]) -> str:
    """Format 1: SHA-256 of the tensors (names, dtypes, shapes and bytes) only."""
    digest = hashlib.sha256()
    _hash_tensors(digest, state)
    return digest.hexdigest()


def _hash_tensors(digest, state: dict[str, torch.Tensor]) -> None:
    for key in sorted(state):
        tensor = state[key]
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.contiguous().view(-1).view(torch.uint8).numpy().tobytes())


def _checksum(payload: dict) -> str:
    """Format 2: SHA-256 of every field but the checksum itself, tensors included."""
    fields = {k: v for k, v in payload.items() if k not in ("state_dict", "checksum")}
    digest = hashlib.sha256()
    digest.update(json.dumps(fields, sort_keys=True, ensure_ascii=True).encode())
    _hash_tensors(digest, payload["state_dict"])
    return digest.hexdigest()


def _json_default(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {value!r}")


def _archive_problem(path: Path) -> str | None:
    """Why the file is not an intact charzoo archive (checked before unpickling anything)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        return "not a charzoo model file (it is empty)"
    if head != b"PK\x03\x04":
        return "not a charzoo model file (charzoo files are zip archives written by save())"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # every member's CRC-32
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return "it is corrupted or truncated (damaged zip archive)"
    if bad is not None:
        return f"it is corrupted (checksum mismatch in {bad})"
    if not any(n.endswith("data.pkl") for n in names):
        return "not a charzoo model file (no torch.save payload)"
    return None


def _read_payload(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if path.is_dir():
        raise ModelFileError(f"cannot load {path}: it is a directory, not a model file")
    problem = _archive_problem(path)
    if problem:
        raise ModelFileError(f"cannot load {path}: {problem}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "it contains pickled Python objects, which charzoo never loads"
        else:
            reason = f"it is corrupted or not a charzoo model file ({text[:200]})"
        raise ModelFileError(f"cannot load {path}: {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"cannot load {path}: not a charzoo model file")
    version = payload.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"cannot load {path}: corrupted (invalid format_version)")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"cannot load {path}: written by charzoo {payload.get('charzoo_version')} in file "
            f"format {version}; this charzoo ({__version__}) reads format <= {FORMAT_VERSION}. "
            "Upgrade charzoo."
        )
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelFileError(f"cannot load {path}: corrupted (no valid state_dict)")
    for key in ("model", "params", "tokenizer", "fitted"):
        if not isinstance(payload.get(key), str):
            raise ModelFileError(f"cannot load {path}: corrupted (field {key!r} is missing)")
    try:
        expected = _tensor_checksum(state) if version == 1 else _checksum(payload)
    except (TypeError, ValueError, RuntimeError):
        expected = None
    if payload.get("checksum") != expected:
        raise ModelFileError(f"cannot load {path}: it is corrupted (checksum mismatch)")
    return payload


def _json_field(payload: dict, key: str, path: Path) -> object:
    try:
        return json.loads(payload[key])
    except (ValueError, TypeError):
        raise ModelFileError(
            f"cannot load {path}: its {key!r} field is not valid JSON (corrupted file)"
        ) from None


def _check_tokenizer(data: object, path: Path) -> CharTokenizer:
    bad = None
    if not isinstance(data, dict) or not isinstance(data.get("chars"), list):
        bad = "the tokenizer record has no character list"
    else:
        chars = data["chars"]
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                bad = f"vocabulary entry {ch!r} is not a single character"
                break
        else:
            if any(a >= b for a, b in zip(chars, chars[1:])):
                bad = "the vocabulary is not sorted distinct characters (a duplicate or swap)"
        if data.get("handle_unknown", "error") not in ("error", "ignore"):
            bad = f"tokenizer handle_unknown={data.get('handle_unknown')!r} is invalid"
    if bad:
        raise ModelFileError(f"cannot load {path}: {bad}")
    return CharTokenizer.from_json(json.dumps(data))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _check_fitted(data: object, path: Path) -> dict:
    """The fitted attributes, each checked against its allow-listed type and range."""
    if not isinstance(data, dict):
        raise ModelFileError(f"cannot load {path}: the fitted attributes are not a record")
    unknown = sorted(set(data) - set(_FITTED_ATTRIBUTES))
    if unknown:
        raise ModelFileError(
            f"cannot load {path}: unknown fitted attribute(s) {unknown}; charzoo only "
            f"restores {list(_FITTED_ATTRIBUTES)}"
        )
    checks = {
        "mode_": lambda v: v in ("document", "stream"),
        "max_text_length_": lambda v: _is_int(v) and 0 <= v <= MAX_TEXT_LENGTH,
        "n_steps_": lambda v: _is_int(v) and v >= 0,
        "stop_reason_": lambda v: isinstance(v, str) and len(v) < 100,
        "best_step_": lambda v: v is None or (_is_int(v) and v >= 0),
        "history_": lambda v: (
            isinstance(v, dict)
            and set(v) <= set(_HISTORY_KEYS)
            and all(isinstance(x, list) and all(map(_is_number, x)) for x in v.values())
        ),
    }
    for key, value in data.items():
        if not checks[key](value):
            raise ModelFileError(
                f"cannot load {path}: fitted attribute {key}={str(value)[:60]!r} is invalid "
                "or implausible"
            )
    if "mode_" not in data or "max_text_length_" not in data:
        raise ModelFileError(
            f"cannot load {path}: fitted attributes mode_/max_text_length_ missing"
        )
    return data


def _check_state(module: torch.nn.Module, state: dict, path: Path) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"cannot load {path}: its tensors do not fit the model (missing {missing[:5]}, "
            f"unexpected {extra[:5]})"
        )
    parameters = dict(module.named_parameters())
    for key, tensor in state.items():
        want = expected[key]
        # buffers (count tables) are sized by the data; parameters by the hyperparameters
        shape_ok = key not in parameters or tuple(tensor.shape) == tuple(want.shape)
        if tensor.dtype != want.dtype or not shape_ok:
            raise ModelFileError(
                f"cannot load {path}: tensor {key} is {tensor.dtype} {tuple(tensor.shape)}, "
                f"the model needs {want.dtype} {tuple(want.shape)}"
            )
        if tensor.is_floating_point():  # count tables may hold -inf log-probabilities
            bad = ~torch.isfinite(tensor) if key in parameters else torch.isnan(tensor)
            bad = bad | torch.isposinf(tensor)
            if bool(bad.any()):
                raise ModelFileError(
                    f"cannot load {path}: tensor {key} holds non-finite values (NaN/inf), "
                    "which a trained model never has; the file is damaged"
                )


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
    params = _json_field(payload, "params", path)
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
        model.tokenizer_ = _check_tokenizer(_json_field(payload, "tokenizer", path), path)
        try:
            _restore_members(model, payload["members"], device, path)
            spec = _from_spec(_json_field(payload, "members_param", path))
            model.set_params(**{model._members_param: spec})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"cannot load {path}: invalid members: {exc}") from None
    try:
        model._validate_params(device=False)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"cannot load {path}: invalid hyperparameter: {exc}") from None
    model.tokenizer_ = _check_tokenizer(_json_field(payload, "tokenizer", path), path)
    for key, value in _check_fitted(_json_field(payload, "fitted", path), path).items():
        setattr(model, key, value)
    try:
        module = model._build_module()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"cannot load {path}: its contents do not fit {name!r}: {exc}"
        ) from None
    _check_state(module, payload["state_dict"], path)
    try:
        module.load_state_dict(payload["state_dict"], assign=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"cannot load {path}: its tensors do not fit {name!r}: {exc}"
        ) from None
    if target is None:
        target = fallback_device(model.device, f"{type(model).__name__} in {path}")
    if device is not None:
        model.set_params(device=device)
    model.module_ = module.to(target).eval()
    return model
