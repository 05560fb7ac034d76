"""Hostile and awkward input against every registered model: a clear error or a right answer.

The case table is ``benchmarks/hostile.py`` (the red-team harness, which also runs each case
in its own worker process under a memory cap and counts the outcomes). Here every case of a
trimmed table runs in-process and must be ``OK``: a ``ValueError``/``TypeError``/charzoo
error raised by charzoo's checks whose message names the problem, or a correct result —
never a raw torch/numpy error (``RAW``) nor a silently wrong answer (``SILENT``).

Every model from ``charzoo.list_models()`` (built-ins and installed plugins) goes through
every class of input: tables (DataFrame, 2-d arrays), bools for numbers, devices, lone
surrogates, sampling arguments, tiny data, callbacks, divergence, Ctrl-C before the first
step, oversized models, damaged and tampered files, and a few CLI commands.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

import charzoo.neural
import charzoo.utils
from benchmarks import hostile  # the case table (the pytest settings put the root on sys.path)

ROOT = Path(__file__).resolve().parent.parent

# per model and class of input, at most this many cases (the harness runs them all)
_PER_KIND = {"bool": 3, "files": 12, "generate": 8, "device": 4, "size": 3, "containers": 5}
_CLI = ("cli/fit-device-cuda", "cli/generate-random-bytes")


def _trimmed() -> list[hostile.Case]:
    kept, seen = [], defaultdict(int)
    for case in hostile.all_cases():
        if case.kind == "cli":
            if case.id in _CLI:
                kept.append(case)
            continue
        key = (case.model, case.kind)
        seen[key] += 1
        if seen[key] <= _PER_KIND.get(case.kind, 99):
            kept.append(case)
    return kept


CASES = _trimmed()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """Shared tiny models; an address-space cap turns a missed huge allocation into an error
    (a RAW failure of the case) instead of the kernel's OOM killer."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = charzoo.utils._mapped_bytes() + 6 * 2**30
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield hostile.Context(str(tmp_path_factory.mktemp("hostile")))
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_enough_cases_for_every_model():
    models = {c.model for c in CASES if c.model}
    assert models == set(charzoo.list_models())
    assert len(CASES) >= 250
    for model in models:
        kinds = {c.kind for c in CASES if c.model == model}
        assert {"bool", "device", "unicode", "generate", "files", "containers"} <= kinds


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_case(case, ctx, monkeypatch):
    # the size checks work the same at any cap; small caps keep the suite fast (a model that
    # would fit in 22 GB is refused at 256 MB instead of training for seconds)
    monkeypatch.setattr(charzoo.neural, "MAX_MODULES", 300)
    monkeypatch.setattr(charzoo.neural, "available_memory", lambda device: 256 * 2**20)
    outcome, detail = hostile.classify(case, ctx)
    if outcome == "SKIP":
        pytest.skip(detail)
    assert outcome == "OK", f"{case.id}: {outcome}: {detail}"
