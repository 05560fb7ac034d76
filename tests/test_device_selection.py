"""CHARZOO_TEST_DEVICE: the suite on another device, or a clean skip where it is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: nothing skips")
def test_a_missing_cuda_device_skips_every_test_with_a_message():
    env = {**os.environ, "CHARZOO_TEST_DEVICE": "cuda"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "tests/test_training.py", "-k", "lr_schedule"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 skipped" in proc.stdout and "passed" not in proc.stdout
    assert "CHARZOO_TEST_DEVICE='cuda' cannot be used" in proc.stdout
    assert "unset CHARZOO_TEST_DEVICE" in proc.stdout


def test_the_default_device_is_the_cpu(device):
    from tests.conftest import DEVICE, TINY

    if "CHARZOO_TEST_DEVICE" not in os.environ:
        assert device == torch.device("cpu") and DEVICE == "cpu" and "device" not in TINY
    else:
        assert TINY.get("device", "cpu") == DEVICE
