"""The pretrained models shipped inside the package: listed, loaded, sampled and scored."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import charzoo
from charzoo.datasets import load_names, train_val_test_split
from charzoo.pretrained_models import list_pretrained, pretrained_info

ROOT = Path(__file__).resolve().parent.parent
FILES = Path(charzoo.__file__).resolve().parent / "pretrained_models"


@pytest.fixture(scope="module")
def test_names():
    return train_val_test_split(load_names(), random_state=42)[2]


def test_listed_and_small():
    assert list_pretrained() == ["names-gru", "names-ngram"]
    sizes = [(FILES / pretrained_info(n).filename).stat().st_size for n in list_pretrained()]
    assert sum(sizes) < 500_000, sizes  # "a few hundred KB" in the wheel


@pytest.mark.parametrize(
    "name, cls, bar", [("names-gru", "CharGRU", 7.6), ("names-ngram", "CharNGram", 9.5)]
)
def test_load_sample_score(name, cls, bar, test_names):
    model = charzoo.pretrained(name)
    info = pretrained_info(name)
    assert type(model).__name__ == cls and model.get_params()["random_state"] == 0
    for key, value in info.params.items():
        assert model.get_params()[key] == value
    # held-out names (the models were trained on the train split of the same split)
    assert 1 < model.score(test_names) < bar
    samples = model.generate(20, prefix="ma", temperature=0.8, random_state=1)
    assert len(samples) == 20 and all(s.startswith("ma") for s in samples)
    assert samples == model.generate(20, prefix="ma", temperature=0.8, random_state=1)
    assert len(set(model.generate(50, random_state=2))) > 25  # names, not one repeated text


def test_callable_after_the_module_is_imported():
    import charzoo.pretrained_models  # noqa: F401  (must not shadow the function)

    assert callable(charzoo.pretrained) and callable(charzoo.list_pretrained)


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="no pretrained model 'names-xl'; available: names-gru"):
        charzoo.pretrained("names-xl")


def test_package_data_ships_the_files():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib")
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["charzoo.pretrained_models"]
    assert "*.cz" in patterns


def test_training_script_reproduces_the_ngram_file(tmp_path):
    """The recipe is deterministic: re-training the n-gram writes the shipped bytes."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "benchmarks/train_pretrained.py", "names-ngram", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    shipped = (FILES / "names-ngram.cz").read_bytes()
    assert (tmp_path / "names-ngram.cz").read_bytes() == shipped


def test_the_wheel_carries_the_models_data_and_the_command(tmp_path):
    """What `pip install .` installs: package data included, the console script wired."""
    import subprocess
    import zipfile

    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip(f"cannot build a wheel offline here: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("charzoo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in list_pretrained():
        assert f"charzoo/pretrained_models/{pretrained_info(name).filename}" in names
    assert "charzoo/datasets/data/names.txt" in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "charzoo = charzoo.cli:run" in zipfile.ZipFile(wheel).read(entry_points).decode()
