"""The ``charzoo`` command line, driven as a subprocess (errors also in-process: same code)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import charzoo
from charzoo.cli import main
from charzoo.datasets import load_names

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def run(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "charzoo", *args],
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=240,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """300 names in a text file and a small MLP fitted on them through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    names = load_names()
    (root / "train.txt").write_text("\n".join(names[:300]) + "\n", encoding="utf-8")
    alphabet = set("".join(names[:300]))
    test = [t for t in names[300:400] if set(t) <= alphabet]
    (root / "test.txt").write_text("\n".join(test) + "\n", encoding="utf-8")
    result = run(
        "fit", "mlp", str(root / "train.txt"), "-o", str(root / "m.cz"),
        "--param", "block_size=2", "--param", "n_hidden=32",
        "--max-steps", "60", "--seed", "0", "--sample-every", "30",
    )  # fmt: skip
    return root, result


def test_models_table_lists_builtins_with_package():
    out = run("models").stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(charzoo.list_models()) == set(lines)
    assert "CharMLP" in lines["mlp"] and "charzoo " + charzoo.__version__ in lines["mlp"]


def test_plugins_trace_and_disable_autoload():
    out = run("models", "--trace", env={**ENV, "CHARZOO_DISABLE_PLUGIN_AUTOLOAD": "1"}).stdout
    assert "charzoo.models.mlp  [built-in, package charzoo" in out and "models: mlp" in out
    assert "entry point" not in out and "CHARZOO_DISABLE_PLUGIN_AUTOLOAD is set" in out


def test_fit_shows_progress_and_samples_and_saves(workdir):
    root, result = workdir
    assert "training mlp on 300 texts" in result.stderr
    assert "step 30: val loss" in result.stderr  # periodic samples, makemore style
    assert f"saved {root / 'm.cz'}" in result.stderr
    assert len(result.stdout.splitlines()) == 5  # final samples
    model = charzoo.load(root / "m.cz")
    assert model.block_size == 2 and model.n_hidden == 32 and model.n_steps_ == 60
    assert model.callbacks is None and model.verbose is False


def test_generate_score_info(workdir):
    root, _ = workdir
    path = str(root / "m.cz")
    gen = run("generate", path, "-n", "8", "--prefix", "a", "--temperature", "0.8", "--seed", "3")
    samples = gen.stdout.splitlines()
    assert len(samples) == 8 and all(s.startswith("a") for s in samples)
    again = run("generate", path, "-n", "8", "--prefix", "a", "--temperature", "0.8", "--seed", "3")
    other = run("generate", path, "-n", "8", "--prefix", "a", "--temperature", "0.8", "--seed", "4")
    assert again.stdout == gen.stdout != other.stdout  # --seed makes samples reproducible
    model = charzoo.load(path)
    # --novel drops samples found in DATA: here half of the model's own samples
    expected = run("generate", path, "-n", "50", "--seed", "1").stdout.splitlines()
    seen = {s for s in expected[::2] if s}  # a blank line is no text
    (root / "seen.txt").write_text("\n".join(seen), encoding="utf-8")
    novel = run("generate", path, "-n", "50", "--seed", "1", "--novel", str(root / "seen.txt"))
    kept = [s for s in expected if s not in seen]
    assert novel.stdout.splitlines() == kept
    assert f"dropped {50 - len(kept)} of 50 samples found in" in novel.stderr
    score = run("score", path, str(root / "test.txt")).stdout
    values = dict(
        line.split(None, 1) for line in score.replace("bits per char", "bpc").splitlines()
    )
    test = (root / "test.txt").read_text().split()
    ppl = model.score(test)
    assert float(values["perplexity"]) == pytest.approx(ppl, abs=1e-4)
    assert values["nll"].startswith(f"{__import__('math').log(ppl):.4f}")
    info = run("info", path).stdout
    assert "mlp (CharMLP, package charzoo" in info and "vocabulary      27 ids" in info
    assert f"parameters      {model.n_parameters_}" in info
    assert "training        60 steps" in info and "block_size = 2" in info


def test_stream_mode_on_bundled_shakespeare(tmp_path):
    path = str(tmp_path / "s.cz")
    run("fit", "bigram", "shakespeare", "-o", path, "-q")
    model = charzoo.load(path)
    assert model.mode_ == "stream" and len(model.tokenizer_.chars) == 65


def test_errors_are_one_line_without_traceback(tmp_path):
    result = run("generate", str(tmp_path / "missing.cz"), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"charzoo: error: no model file at {tmp_path / 'missing.cz'}"
    ]
    debug = run("--debug", "fit", "nope", "names", "-o", "x.cz", check=False)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "nope", "names", "-o", "{d}/x.cz"], "unknown model 'nope'; available models:"),
        (["fit", "mlp", "{d}/none.txt", "-o", "{d}/x.cz"], "no such file: {d}/none.txt"),
        (["fit", "mlp", "names", "-o", "{d}/x.cz", "--param", "blok=3"], "no parameter 'blok'"),
        (["fit", "mlp", "names", "-o", "{d}/x.cz", "--param", "block_size"], "key=value"),
        (["fit", "mlp", "names", "-o", "{d}/x.cz", "--param", "block_size=0"], "block_size"),
        (["fit", "bigram", "names", "-o", "{d}/x.cz", "--max-steps", "5"], "no parameter"),
        (["fit", "mlp", "names", "-o", "{d}/no/x.cz"], "does not exist"),
        (["score", "{d}/bad.cz", "names"], "cannot load"),
        (["score", "{d}/m.cz", "dinos"], "character 'A' (U+0041)"),
        (["generate", "{d}/m.cz", "--prefix", "Q!"], "'Q'"),
        (["generate", "{d}/m.cz", "--temperature", "-1"], "temperature"),
    ],
)
def test_error_messages(tmp_path, capsys, argv, message):
    (tmp_path / "bad.cz").write_bytes(b"not a model")
    charzoo.create_model("bigram").fit(["ab", "ba"]).save(tmp_path / "m.cz")
    status = main([a.format(d=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert status == 1
    errors = [line for line in err.splitlines() if line.startswith("charzoo: error: ")]
    assert len(errors) == 1 and errors[0] == err.strip().splitlines()[-1]
    assert message.format(d=tmp_path) in errors[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_keeps_the_best_model(tmp_path):
    path = tmp_path / "run.cz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "charzoo", "fit", "mlp", "names", "-o", str(path), "-q",
         "--max-steps", "1000000", "--param", "eval_interval=10", "--seed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not path.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert path.exists(), "no checkpoint was written"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)  # generous: the CI machine may be busy
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"the best model so far is in {path}" in err
    model = charzoo.load(path)
    assert model.stop_reason_ == "interrupted" and 0 < model.n_steps_ < 1000000
    assert len(model.generate(3)) == 3
