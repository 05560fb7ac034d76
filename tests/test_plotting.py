"""charzoo.plotting: history, embeddings and lr-sweep plots, written to real PNG files."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from charzoo import CharBigram, CharMLP  # noqa: E402
from charzoo.lr_finder import LRFindResult  # noqa: E402
from charzoo.plotting import plot_embeddings, plot_history, plot_lr_find  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fitted(small_names):
    train, test = small_names
    return CharMLP(n_embd=5, max_steps=100, batch_size=32, random_state=0).fit(
        train, validation_texts=test
    )


def _is_png(path):
    return path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000


def test_plot_history_writes_png_with_both_curves(fitted, tmp_path):
    path = tmp_path / "sub" / "history.png"
    fig = plot_history(fitted, path=path)
    assert _is_png(path)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["train", "validation"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), fitted.history_["step"])
    assert ax.get_title() == "CharMLP"


def test_plot_history_of_dict_without_validation_on_given_axes(tmp_path):
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    history = {"step": [1, 2], "train_loss": [3.0, 2.5], "val_loss": [None, None]}
    fig = plot_history(history, ax=ax)
    assert fig is ax.figure
    assert [line.get_label() for line in ax.get_lines()] == ["train"]
    assert ax.get_title() == "training history"
    with pytest.raises(ValueError, match="no training history"):
        plot_history({})


def test_plot_embeddings_labels_every_character_with_pca(fitted, tmp_path):
    path = tmp_path / "emb.png"
    fig = plot_embeddings(fitted, path=path)
    assert _is_png(path)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["."] + fitted.tokenizer_.chars
    assert "PC 1" in ax.get_xlabel()
    # the plotted points are the PCA projection of the embedding matrix
    weights = fitted.module_.embedding.weight.detach().double().cpu().numpy()
    from sklearn.decomposition import PCA

    expected = PCA(n_components=2).fit_transform(weights)
    plotted = np.array([t.xy for t in ax.texts])
    np.testing.assert_allclose(np.abs(plotted), np.abs(expected), atol=1e-6)


def test_plot_embeddings_2d_uses_raw_coordinates(small_names):
    train, _ = small_names
    model = CharMLP(n_embd=2, max_steps=5, random_state=0).fit(train[:200])
    ax = plot_embeddings(model).axes[0]
    weights = model.module_.embedding.weight.detach().double().cpu().numpy()
    np.testing.assert_allclose(np.array([t.xy for t in ax.texts]), weights)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_plot_embeddings_needs_an_embedding(small_names):
    train, _ = small_names
    with pytest.raises(ValueError, match="no character embedding"):
        plot_embeddings(CharBigram().fit(train))


def test_plot_lr_find(tmp_path):
    rates = np.logspace(-3, 0, 50)
    losses = 3 - np.sin(np.linspace(0, 3, 50))
    path = tmp_path / "lr.svg"
    fig = plot_lr_find(LRFindResult(rates, losses, 0.01), path=path)
    assert path.read_text().lstrip().startswith("<?xml")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert "suggested 0.01" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_missing_matplotlib_says_how_to_install(monkeypatch, fitted):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(ImportError, match=r"pip install charzoo\[plot\]"):
        plot_history(fitted)
