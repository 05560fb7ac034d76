"""The benchmark suite runs end to end (tiny sizes) so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("model", "test_nll", "perplexity", "bits_per_char", "n_parameters", "fit_seconds")


def test_run_all_smoke(tmp_path):
    pytest.importorskip("nltk", reason="the speed benchmark compares with nltk (benchmark extra)")
    out = tmp_path / "speed.jsonl"
    proc = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--smoke", "--", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [json.loads(line) for line in proc.stdout.splitlines()]
    sections = {r["section"] for r in records}
    assert sections == {"train", "generate", "score", "ngram_fit", "ngram_score", "rss", "makemore"}
    for record in records:
        assert all(key in record for key in (*REQUIRED, "steps")), record
        assert record["kind"] == "speed" and record["quick"] is True
    train = [r for r in records if r["section"] == "train"]
    assert {r["name"] for r in train} == {"mlp", "bow", "gru", "transformer"}
    for r in train:  # the baseline is the same network: same parameter count
        assert r["baseline_n_parameters"] == r["n_parameters"] > 0
        assert r["time_ratio"] > 0 and r["step_seconds"]["median"] > 0
    for r in records:
        if r["section"] in ("generate", "score", "ngram_fit", "ngram_score"):
            assert r["speedup"] > 0
    score = {r["name"]: r for r in records if r["section"] == "score"}
    for r in score.values():  # batched scoring == the per-text loop over the same module
        assert abs(r["test_nll"] - r["baseline_test_nll"]) < 1e-4
    kn = next(r for r in records if r["section"] == "ngram_score" and "Kneser" in r["baseline"])
    assert abs(kn["test_nll"] - kn["baseline_test_nll"]) < 0.02  # same model as NLTK's
    rss = next(r for r in records if r["section"] == "rss")
    assert 0 < rss["peak_rss_gb"] < 1.5


def test_run_all_lists_quality_runs():
    proc = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "window_models.py" in proc.stdout and "sequence_models.py" in proc.stdout


def _smoke_records(script: str, tmp_path: Path) -> list[dict]:
    """Run ``benchmarks/<script> --smoke``; its printed JSON lines, checked to be the ones it
    saved under ``tmp_path``."""
    proc = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--smoke", "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    saved = (tmp_path / script.replace(".py", ".jsonl")).read_text().splitlines()
    assert [json.loads(line) for line in saved] == records
    return records


def test_dropout_speed_benchmark_runs(tmp_path):
    records = _smoke_records("dropout_speed.py", tmp_path)
    assert [r["section"] for r in records] == ["layer", "fit"]
    assert all(r["speedup"] > 0 for r in records)
    assert 0.5 < records[0]["kept_fraction"] < 1 and 0.5 < records[0]["baseline_kept_fraction"] < 1


def test_packing_speed_benchmark_runs(tmp_path):
    records = _smoke_records("packing_speed.py", tmp_path)
    assert [r["section"] for r in records] == ["slots", "fit"]
    slots, fit = records
    # names are far shorter than the longest name of a batch: packing needs fewer slots
    assert slots["slot_ratio"] > 1.1
    assert slots["packed_target_fraction"] > slots["padded_target_fraction"]
    assert fit["speedup"] > 0


def test_steering_benchmark_runs(tmp_path):
    records = _smoke_records("steering.py", tmp_path)
    sections = [r["section"] for r in records]
    assert set(sections) == {"validity", "fidelity", "cost", "most_likely"}
    assert all(r["valid"] == r["returned"] for r in records if r["section"] == "validity")
    assert all(r["equals_exact_top_n"] for r in records if r["section"] == "most_likely")
    assert all(r["mask_tv"] > r["exact_tv"] for r in records if r["section"] == "fidelity")
    assert (tmp_path / "steering.md").read_text().startswith("# Constrained generation")


def test_private_dropout_speed_benchmark_runs(tmp_path):
    records = _smoke_records("private_dropout_speed.py", tmp_path)
    assert [r["model"].split()[0] for r in records] == ["CharTransformer", "CharGRU", "CharLSTM"]
    assert all(r["seconds"] > 0 and r["baseline_seconds"] > 0 for r in records)
