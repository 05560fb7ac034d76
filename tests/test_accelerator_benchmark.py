"""benchmarks/accelerator.py: a clean exit without CUDA, and its code on the CPU (smoke)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "accelerator.py"


def _run(*args):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present: the full run would start")
def test_without_cuda_it_says_so_and_exits_0():
    proc = _run()
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device" in proc.stdout and "nothing measured" in proc.stdout


def test_smoke_runs_both_sections_on_the_cpu(tmp_path):
    out = tmp_path / "acc.jsonl"
    proc = _run("--smoke", "--no-compile", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    train = {r["who"]: r for r in rows if r["section"] == "train"}
    assert train["charzoo"]["n_parameters"] > 0 and train["ratio"]["ms_ratio"] > 0
    for who in ("charzoo", "plain_loop"):
        assert train[who]["ms_per_step"] > 0 and 0 < train[who]["best_val_nll"] < 5
    samples = [r for r in rows if r["section"] == "sample" and r["who"] != "ratio"]
    assert {(r["model"], r["who"]) for r in samples} == {
        (m, w) for m in ("transformer", "gru") for w in ("charzoo", "makemore_loop")
    }
    assert all(r["names_per_s"] > 0 for r in samples)
