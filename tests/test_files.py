"""Saved files: safe loading, clear errors for bad files, version and provenance records."""

import io
import os
import pickle
import zipfile

import pytest
import torch

from charzoo import CharBigram, ModelFileError, load
from charzoo.model_file import FORMAT_VERSION, checksum


def _resave(payload, path):
    """Write an edited payload with a valid checksum (as another charzoo would)."""
    payload["checksum"] = checksum(payload)
    torch.save(payload, path)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, small_names):
    train, _ = small_names
    path = tmp_path_factory.mktemp("files") / "bigram.cz"
    CharBigram().fit(train).save(path)
    return path


def test_file_records_versions_and_plugin(saved):
    payload = torch.load(saved, weights_only=True)
    assert payload["format"] == "charzoo" and payload["format_version"] == FORMAT_VERSION
    assert payload["model"] == "bigram" and payload["package"] == "charzoo"
    assert payload["charzoo_version"] and payload["package_version"]


def test_truncated_file(saved, tmp_path):
    bad = tmp_path / "truncated.cz"
    bad.write_bytes(saved.read_bytes()[: os.path.getsize(saved) // 2])
    with pytest.raises(ModelFileError, match="corrupted or truncated"):
        load(bad)


def test_corrupted_and_wrong_format(tmp_path):
    garbage = tmp_path / "garbage.cz"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ModelFileError, match="cannot load"):
        load(garbage)
    other = tmp_path / "other.cz"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match="not a charzoo model"):
        load(other)
    with pytest.raises(FileNotFoundError, match="no model file"):
        load(tmp_path / "missing.cz")


def test_future_format_version(saved, tmp_path):
    payload = torch.load(saved, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.cz"
    torch.save(payload, newer)
    with pytest.raises(ModelFileError, match="Upgrade charzoo"):
        load(newer)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/charzoo_pwned",))


def test_pickle_payload_is_refused(saved, tmp_path):
    marker = "/tmp/charzoo_pwned"
    if os.path.exists(marker):
        os.unlink(marker)
    payload = torch.load(saved, weights_only=True)
    payload["params"] = _Exploit()
    evil = tmp_path / "evil.cz"
    torch.save(payload, evil)
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        load(evil)
    assert not os.path.exists(marker)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(ModelFileError):
        load(plain)
    assert not os.path.exists(marker)


def test_missing_plugin_names_package(saved, tmp_path):
    payload = torch.load(saved, weights_only=True)
    payload["model"], payload["package"] = "not-installed-model", "charzoo-missing-plugin"
    orphan = tmp_path / "orphan.cz"
    _resave(payload, orphan)
    with pytest.raises(ModelFileError, match="pip install charzoo-missing-plugin"):
        load(orphan)


def test_save_is_atomic_and_keeps_old_file_on_failure(saved, tmp_path, monkeypatch):
    target = tmp_path / "model.cz"
    target.write_bytes(saved.read_bytes())
    before = target.read_bytes()
    model = load(saved)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        model.save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.cz"]  # no temp file left behind


def test_zip_member_corruption(saved, tmp_path):
    buffer = io.BytesIO(saved.read_bytes())
    with zipfile.ZipFile(buffer) as archive:
        names = archive.namelist()
    assert names  # torch.save writes a zip archive
    data = bytearray(saved.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\x00" * 64
    broken = tmp_path / "broken.cz"
    broken.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        load(broken)


def test_file_from_another_charzoo_version_loads(saved, tmp_path):
    payload = torch.load(saved, weights_only=True)
    payload["charzoo_version"] = "0.2.7"  # same file format, other release
    other = tmp_path / "other_release.cz"
    _resave(payload, other)
    assert load(other).score(["emma"]) == load(saved).score(["emma"])


KILL_SCRIPT = """
import sys
from charzoo import load
model = load(sys.argv[1])
print("READY", flush=True)
while True:
    model.save(sys.argv[2])
"""


def test_kill_9_during_repeated_saves_never_leaves_a_corrupt_file(saved, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "target.cz"
    target.write_bytes(saved.read_bytes())
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(saved), str(target)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().startswith("READY")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert load(target).score(["emma"]) == load(saved).score(["emma"])


CTRL_C_SCRIPT = """
import sys
import torch.serialization
from charzoo import load


def interrupted_exit(self, *exc):
    # Ctrl-C lands while torch closes the archive, before it writes the end of the zip.
    raise KeyboardInterrupt


torch.serialization._open_zipfile_writer_buffer.__exit__ = interrupted_exit
try:
    load(sys.argv[1]).save(sys.argv[2])
except KeyboardInterrupt:
    print("INTERRUPTED")
"""


def test_ctrl_c_while_the_file_is_written_keeps_the_old_file(saved, tmp_path):
    """Regression: torch's unfinished archive writer used to write to the closed temp file when
    it was garbage-collected after a Ctrl-C, which aborted the process (SIGABRT)."""
    import subprocess
    import sys

    target = tmp_path / "target.cz"
    target.write_bytes(saved.read_bytes())
    fresh = tmp_path / "fresh.cz"
    for path in (target, fresh):
        run = subprocess.run(
            [sys.executable, "-c", CTRL_C_SCRIPT, str(saved), str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip() == "INTERRUPTED"
    assert target.read_bytes() == saved.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target.cz"]  # no temp file, no fresh


# ------------------------------------------------------------------------ whole-file checks
def _payload(path):
    return torch.load(path, weights_only=True)


def _resealed(payload, path):
    """An edited payload saved with a valid checksum, so that only field validation can
    refuse it (as a file crafted by someone who knows the format)."""
    from charzoo.model_file import checksum

    payload = {k: v for k, v in payload.items() if k != "checksum"}
    payload["checksum"] = checksum(payload)
    torch.save(payload, path)


@pytest.fixture(scope="module")
def saved_mlp(tmp_path_factory, small_names):
    from charzoo import CharMLP

    path = tmp_path_factory.mktemp("mlp") / "mlp.cz"
    CharMLP(max_steps=30, random_state=0, device="cpu").fit(small_names[0][:300]).save(path)
    return path


def test_checksum_covers_tokenizer_params_and_fitted(saved_mlp, tmp_path):
    for key, edit in [
        ("tokenizer", lambda t: t.replace('"a", "b"', '"b", "a"')),
        ("params", lambda p: p.replace('"max_steps": 30', '"max_steps": 31')),
        ("fitted", lambda f: f.replace('"mode_": "document"', '"mode_": "stream"')),
    ]:
        payload = _payload(saved_mlp)
        changed = edit(payload[key])
        assert changed != payload[key]
        payload[key] = changed
        torch.save(payload, tmp_path / "edited.cz")
        with pytest.raises(ModelFileError, match=r"corrupted \(checksum mismatch\)"):
            load(tmp_path / "edited.cz")


def test_older_format_versions_are_refused(saved_mlp, tmp_path):
    payload = _payload(saved_mlp)
    payload["format_version"] = 1
    _resealed(payload, tmp_path / "v1.cz")
    with pytest.raises(ModelFileError, match=r"format_version 1; charzoo writes format 2"):
        load(tmp_path / "v1.cz")


@pytest.mark.parametrize(
    ("field", "edit", "match"),
    [
        ("fitted", lambda d: d.update(score=1.0), r"unknown fitted attribute.*'score'"),
        ("fitted", lambda d: d.update(max_text_length_=10**12), "max_text_length_"),
        ("fitted", lambda d: d.update(mode_="bogus"), "mode_"),
        ("params", lambda d: d.update(max_steps=-5), "max_steps"),
        ("params", lambda d: d.update(mode="bogus"), "'mode' parameter"),
        ("params", lambda d: d.update(n_embd=True), "n_embd"),
        ("tokenizer", lambda d: d["chars"].__setitem__(0, "ab"), "'ab' is not a single char"),
        ("tokenizer", lambda d: d["chars"].reverse(), "not sorted distinct"),
    ],
)
def test_resealed_fields_are_validated(saved_mlp, tmp_path, field, edit, match):
    import json

    payload = _payload(saved_mlp)
    data = json.loads(payload[field])
    edit(data)
    payload[field] = json.dumps(data)
    _resealed(payload, tmp_path / "bad.cz")
    with pytest.raises(ModelFileError, match=match):
        load(tmp_path / "bad.cz")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(saved_mlp, tmp_path, value):
    payload = _payload(saved_mlp)
    weight = payload["state_dict"]["embedding.weight"].clone()
    weight[0, 0] = value
    payload["state_dict"]["embedding.weight"] = weight
    _resealed(payload, tmp_path / "nan.cz")
    with pytest.raises(ModelFileError, match=r"embedding.weight holds non-finite"):
        load(tmp_path / "nan.cz")


def test_damaged_files_say_what_they_are(saved_mlp, tmp_path):
    (tmp_path / "random.cz").write_bytes(os.urandom(4096))
    (tmp_path / "text.cz").write_text("emma\nolivia\n")
    (tmp_path / "empty.cz").write_bytes(b"")
    for name in ("random.cz", "text.cz", "empty.cz"):
        with pytest.raises(ModelFileError, match="not a charzoo model file"):
            load(tmp_path / name)
    data = bytearray(saved_mlp.read_bytes())
    flipped = 0
    for offset in range(200, len(data) - 200, len(data) // 9):
        broken = bytearray(data)
        broken[offset] ^= 0x04
        (tmp_path / "flip.cz").write_bytes(bytes(broken))
        try:
            model = load(tmp_path / "flip.cz")
        except ModelFileError as exc:
            assert "corrupted" in str(exc) or "not a charzoo" in str(exc), str(exc)
            assert "pickled Python objects" not in str(exc)
            flipped += 1
        else:  # a flip in zip padding changes nothing the model uses
            assert model.score(["emma"]) == load(saved_mlp).score(["emma"])
    assert flipped >= 5


def test_saved_file_respects_umask_and_stale_temp_files_are_removed(saved_mlp, tmp_path):
    model = load(saved_mlp)
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "m.cz")
    finally:
        os.umask(old)
    assert (tmp_path / "m.cz").stat().st_mode & 0o777 == 0o644
    # a save killed by kill -9 leaves its temp file; the next save of the target removes it
    dead = tmp_path / ".m.cz.999999999-abc.tmp"
    dead.write_bytes(b"partial")
    alive = tmp_path / f".m.cz.{os.getpid()}-xyz.tmp"  # this process: may still be writing
    alive.write_bytes(b"partial")
    other = tmp_path / ".other.cz.999999999-abc.tmp"
    other.write_bytes(b"partial")
    model.save(tmp_path / "m.cz")
    assert not dead.exists() and alive.exists() and other.exists()


def test_model_saved_for_cuda_loads_on_a_cpu_only_machine(saved_mlp, tmp_path, monkeypatch):
    import warnings

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CUDA-less torch
    model = load(saved_mlp).set_params(device="cuda")
    model.save(tmp_path / "cuda.cz")
    with pytest.warns(UserWarning, match=r"device='cuda'.*put on the CPU") as record:
        loaded = load(tmp_path / "cuda.cz")
    assert len(record) == 1
    assert loaded.device_.type == "cpu" and loaded.device == "cuda"
    assert loaded.score(["emma"]) == load(saved_mlp).score(["emma"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chosen = load(tmp_path / "cuda.cz", device="cpu")  # device= overrides, no warning
    assert chosen.device == "cpu" and chosen.device_.type == "cpu"
    with pytest.raises(ValueError, match="device='cuda'.*no CUDA GPU"):
        load(tmp_path / "cuda.cz", device="cuda")  # an explicit device must exist


def test_pickled_gpu_model_unpickles_on_a_cpu_only_machine(saved_mlp, monkeypatch):
    model = load(saved_mlp).set_params(device="cuda")
    state = model.__getstate__()
    state["_pickled_device"] = "cuda:0"  # as written on a GPU machine (module copied to CPU)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clone = type(model).__new__(type(model))
    with pytest.warns(UserWarning, match=r"device='cuda'.*put on the CPU"):
        clone.__setstate__(state)
    assert clone.device_.type == "cpu"
    assert clone.score(["emma"]) == model.score(["emma"])
    plain = pickle.loads(pickle.dumps(load(saved_mlp)))  # CPU models round-trip as before
    assert plain.score(["emma"]) == model.score(["emma"])
