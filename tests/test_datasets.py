import hashlib

import pytest

import charzoo.datasets as datasets
from charzoo.datasets import load_python_source, python_source_paths


def test_python_source_paths_sorted_unique_py_files():
    paths = python_source_paths()
    assert paths == sorted(set(paths))
    assert len(paths) > 100 and all(p.endswith(".py") for p in paths)
    assert any(p.endswith("/os.py") for p in paths)  # the standard library is included


def test_load_python_source_budget_deterministic_and_split_by_file():
    texts, paths = load_python_source(max_bytes=300_000, return_paths=True)
    sizes = [len(t.encode("utf-8")) for t in texts]
    assert 0 < sum(sizes) <= 300_000 and all(sizes) and len(texts) == len(paths)
    assert all(isinstance(t, str) for t in texts)
    again, again_paths = load_python_source(max_bytes=300_000, return_paths=True)
    assert again == texts and again_paths == paths
    other = load_python_source(max_bytes=300_000, random_state=1, return_paths=True)[1]
    assert other != paths
    cut = int(0.9 * len(texts))  # a 90/10 split by file is plain slicing
    assert set(paths[:cut]).isdisjoint(paths[cut:])
    digest = hashlib.sha256("\n".join(paths).encode()).hexdigest()
    assert len(digest) == 64


def test_load_python_source_sorted_order_and_skips(tmp_path, monkeypatch):
    files = {
        "a.py": b"x = 1\n",
        "b.py": "caf\xe9 = 1\n".encode("latin-1"),  # not UTF-8: skipped
        "c.py": b"",  # empty: skipped
        "d.py": "y = '\u00e9'\n".encode(),
        "e.py": b"z = 2\n" * 100,  # larger than what is left of the budget: skipped
        "f.py": b"w = 3\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.setattr(
        datasets, "python_source_paths", lambda: sorted(map(str, tmp_path.iterdir()))
    )
    texts, paths = load_python_source(max_bytes=40, shuffle=False, return_paths=True)
    assert [p.rsplit("/", 1)[1] for p in paths] == ["a.py", "d.py", "f.py"]
    assert texts == ["x = 1\n", "y = '\u00e9'\n", "w = 3\n"]
    assert len(load_python_source(max_bytes=None, shuffle=False)) == 4


@pytest.mark.parametrize("bad", [0, -5, 1.5, "10", True])
def test_load_python_source_bad_budget(bad):
    with pytest.raises(ValueError, match="max_bytes"):
        load_python_source(max_bytes=bad)


def test_scale_benchmark_smoke(tmp_path):
    """benchmarks/scale.py end to end on 0.2 MB (one neural and one count model)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out, md = tmp_path / "scale.jsonl", tmp_path / "scale.md"
    proc = subprocess.run(
        [sys.executable, "benchmarks/scale.py", "--smoke", "--out", str(out), "--md", str(md)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["model"] for r in records] == ["mlp", "ngram"]
    mlp, ngram = records
    assert mlp["steps"] == 3 and mlp["step_seconds"] > 0 and mlp["data_setup_seconds"] > 0
    assert ngram["steps"] is None and ngram["fit_seconds"] > 0
    for r in records:
        assert r["corpus"]["n_files"] > 0 and len(r["corpus"]["paths_sha256"]) == 16
        assert r["peak_rss_mb"] >= r["rss_before_fit_mb"] > 0
        assert 0 < r["bits_per_char"] < 8 and r["score_chars_per_s"] > 0
    assert "| mlp | 0.2 | text |" in md.read_text()
