"""Saved files: safe loading, clear errors for bad files, version and provenance records."""

import io
import os
import pickle
import zipfile

import pytest
import torch

from charzoo import CharBigram, ModelFileError, load
from charzoo.persistence import FORMAT_VERSION, _checksum


def _resave(payload, path):
    """Write an edited payload with a valid checksum (as another charzoo would)."""
    payload["checksum"] = _checksum(payload)
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
