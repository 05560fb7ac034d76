"""The charzoo model file: its format constants, checksum, atomic write and the validation of
every field on read (see :mod:`charzoo.persistence` for the layout and the rules)."""

from __future__ import annotations

import hashlib
import io
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
from charzoo.fitted_attributes import declared_fitted_attributes
from charzoo.tokenizer import CharTokenizer

__all__ = [
    "payload_header",
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "check_fitted",
    "check_state",
    "check_tokenizer",
    "checksum",
    "json_default",
    "json_field",
    "jsonable",
    "read_payload",
    "write_atomic",
]

FORMAT = "charzoo"
FORMAT_VERSION = 2  # the checksum covers the whole payload
_STALE_TMP_SECONDS = 600  # temp files of a save without a pid older than this are removed


class ModelFileError(ValueError):
    """A file is not a readable charzoo model (wrong format, corrupted, unsafe or too new)."""


def jsonable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def write_atomic(payload: dict, path: Path) -> None:
    """``torch.save`` ``payload`` to ``path`` atomically (temp file, fsync, rename).

    The file gets the permissions of a plain new file (``0666`` minus the umask) or, when it
    replaces one, the permissions of the old file. Temp files left by an earlier save of the
    same target that was killed (``kill -9``) are removed.
    """
    path = _save_target(path)
    directory = path.parent if str(path.parent) else Path(".")
    _remove_stale_temp_files(directory, path.name)
    # Serialise in memory first. If Ctrl-C interrupts torch.save before it has finished the
    # archive, torch's writer finishes it when it is garbage-collected; with a real file that
    # is after the ``with`` below has closed it, and the write aborts the process (SIGABRT).
    # A BytesIO stays open while the writer holds it; the file gets one plain Python write.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getbuffer())
            handle.flush()
            os.chmod(tmp, _new_file_mode(path))
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save_target(path: Path) -> Path:
    """The file a save replaces: a symlink's target (the link stays a link); anything but a
    regular file or a new name (a device such as ``/dev/null``, a FIFO, a directory) is
    refused rather than replaced by a regular file."""
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a device, FIFO or socket)"
        raise ValueError(
            f"cannot save to {path}: it is {kind}, which a save would replace; save to a "
            "regular file path such as model.cz"
        )
    return path


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


def _hash_tensors(digest, state: dict[str, torch.Tensor]) -> None:
    for key in sorted(state):
        tensor = state[key]
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.contiguous().view(-1).view(torch.uint8).numpy().tobytes())


def checksum(payload: dict) -> str:
    """Format 2: SHA-256 of every field but the checksum itself, tensors included."""
    fields = {k: v for k, v in payload.items() if k not in ("state_dict", "checksum")}
    digest = hashlib.sha256()
    digest.update(json.dumps(fields, sort_keys=True, ensure_ascii=True).encode())
    _hash_tensors(digest, payload["state_dict"])
    return digest.hexdigest()


def json_default(value: object) -> object:
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


def read_payload(path: Path) -> dict:
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
    if isinstance(version, bool) or not isinstance(version, int) or version < FORMAT_VERSION:
        raise ModelFileError(
            f"cannot load {path}: corrupted (format_version {version!r}; charzoo writes "
            f"format {FORMAT_VERSION})"
        )
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
        expected = checksum(payload)
    except (TypeError, ValueError, RuntimeError):
        expected = None
    if payload.get("checksum") != expected:
        raise ModelFileError(f"cannot load {path}: it is corrupted (checksum mismatch)")
    return payload


def json_field(payload: dict, key: str, path: Path) -> object:
    try:
        return json.loads(payload[key])
    except RecursionError:
        raise ModelFileError(
            f"cannot load {path}: its {key!r} field is nested too deeply (corrupted file)"
        ) from None
    except (ValueError, TypeError):
        raise ModelFileError(
            f"cannot load {path}: its {key!r} field is not valid JSON (corrupted file)"
        ) from None


def check_tokenizer(data: object, path: Path) -> CharTokenizer:
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


def check_fitted(data: object, path: Path, cls: type) -> dict:
    """The fitted attributes of a ``cls`` model, each checked by the validator its class
    declares (see :mod:`charzoo.fitted_attributes`)."""
    declared = declared_fitted_attributes(cls)
    if not isinstance(data, dict):
        raise ModelFileError(f"cannot load {path}: the fitted attributes are not a record")
    unknown = sorted(set(data) - set(declared))
    if unknown:
        raise ModelFileError(
            f"cannot load {path}: unknown fitted attribute(s) {unknown}; {cls.__name__} "
            f"declares {sorted(declared)}"
        )
    for key, value in data.items():
        if not declared[key](value):
            raise ModelFileError(
                f"cannot load {path}: fitted attribute {key}={str(value)[:60]!r} is invalid "
                "or implausible"
            )
    if "mode_" not in data or "max_text_length_" not in data:
        raise ModelFileError(
            f"cannot load {path}: fitted attributes mode_/max_text_length_ missing"
        )
    return data


def check_state(module: torch.nn.Module, state: dict, path: Path) -> None:
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


def payload_header(model: object, info: object, params: dict) -> dict:
    """The fields every model file starts with: format, versions, the registered name, class
    and package of ``model`` (``info`` from the registry), its hyperparameters as JSON and its
    vocabulary. The writer adds ``fitted``, the tensors and the checksum."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "charzoo_version": __version__,
        "model": info.name,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "package": info.package,
        "package_version": info.version,
        "params": json.dumps(params),
        "tokenizer": model.tokenizer_.to_json(),
    }
