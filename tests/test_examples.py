"""Every script in examples/ runs in quick mode, prints its results and writes its figures.

The examples are started together, two at a time (CI has 2 cores), each as its own process
with ``--quick`` and ``CHARZOO_OUTPUT`` pointing at a temporary directory; each test then
checks one example's exit code, output and figures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
TIMEOUT = 180  # seconds per example in quick mode; they take a few seconds each

# what each example must print (a regex) besides its "saved <figure>" lines
EXPECTED = {
    "names_mlp.py": r"test perplexity: \d+\.\d+.*temperature 1\.5: \d+/20 novel",
    "learning_rate_finder.py": r"suggested learning rate: [\d.e-]+.*learning_rate=",
    "dinosaurs_rnn.py": r"step +10 +train \d\.\d+ +val \d\.\d+.*"  # the first evaluation
    r"kept the weights of step \d+ \(best validation loss.*final samples",
    "shakespeare_lstm.py": r"mode: stream.*temperature 0\.1: \d+% repeated",
    "grid_search.py": r"validation ppl +size +candidate.*best: Char",
    "compare_zoo.py": r"QUICK MODE: a smoke run.*model +class +size.*\nmlp +CharMLP",
    "unicode_text.py": r"same log-likelihood: (-?[\d.]+) vs \1.*'Z' \(U\+005A\)",
    "quickstart.py": r"test perplexity \d+\.\d+",
    "classify_words.py": r"CharLMClassifier +accuracy 0\.\d+ +log-loss.*TF-IDF \+ LR +accuracy"
    r".*xenosaurus +-> dinosaur",
    "which_model.py": r"mixture weights: .*rank +model +bits/char.*best: \w+",
    "steering_names.py": r"fantasy names: .*most likely after 'ma': .*conditional +mean length "
    r"\d\.\d+.*masked +mean length",
    "code_generation.py": r"transformer +held-out bits per character: \d+\.\d+.*5-gram +held-out"
    r".*\d/8 sampled functions parse",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every example once; returns {script: (returncode, output, figure directory)}."""
    env = {**os.environ, "CHARZOO_QUICK": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}

    def run(script):
        out_dir = tmp_path_factory.mktemp(script.removesuffix(".py"))
        proc = subprocess.run(
            [sys.executable, str(EXAMPLES / script), "--quick"],
            env={**env, "CHARZOO_OUTPUT": str(out_dir)},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        return script, (proc.returncode, proc.stdout + proc.stderr, out_dir)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, SCRIPTS))


def test_every_example_is_covered():
    assert set(SCRIPTS) <= set(EXPECTED), "add the new example to EXPECTED"


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_quick(runs, script):
    returncode, output, out_dir = runs[script]
    assert returncode == 0, output[-3000:]
    assert re.search(EXPECTED[script], output, re.DOTALL), output[-3000:]
    saved = [Path(p) for p in re.findall(r"^saved (.+)$", output, re.MULTILINE)]
    for path in saved:
        assert path.parent == out_dir and path.stat().st_size > 5000, path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if script != "quickstart.py":
        assert saved, "every gallery example saves at least one figure"
