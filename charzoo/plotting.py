"""Plots of training curves, character embeddings and learning-rate sweeps (matplotlib extra).

Install the extra with ``pip install charzoo[plot]``. matplotlib is imported only when a plot
is drawn, so ``import charzoo`` never needs it.

Every function draws on ``ax`` when given; otherwise it makes a new figure. With ``path`` the
figure is also written to that file: a figure made for a file is a plain
:class:`matplotlib.figure.Figure` rendered by the Agg backend, so scripts and servers need no
display and no pyplot state is touched. Each function returns the figure.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["plot_embeddings", "plot_history", "plot_lr_find"]

_INSTALL_HINT = "charzoo.plotting needs matplotlib; install it with `pip install charzoo[plot]`"


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return matplotlib


def _figure_and_axes(ax, path, figsize: tuple[float, float]):
    _require_matplotlib()
    if ax is not None:
        return ax.figure, ax
    if path is not None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
    else:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _save(fig, path) -> None:
    if path is not None:
        parent = os.path.dirname(os.fspath(path))
        if parent:
            os.makedirs(parent, exist_ok=True)
        fig.savefig(path, dpi=120)


def plot_history(model_or_history, *, ax=None, path=None, title: str | None = None):
    """Training and validation loss against the optimiser step.

    Parameters
    ----------
    model_or_history : fitted neural CharLM or dict
        A model with ``history_`` or such a dict (``step``, ``train_loss``, ``val_loss``).
    ax : matplotlib Axes, optional
        Draw here instead of on a new figure.
    path : str or path-like, optional
        Also save the figure to this file (format from the extension).
    title : str, optional
        Defaults to the model's class name.

    Returns
    -------
    matplotlib.figure.Figure
    """
    history = getattr(model_or_history, "history_", model_or_history)
    if not isinstance(history, dict) or not history.get("step"):
        raise ValueError("no training history to plot: fit a neural model first")
    fig, ax = _figure_and_axes(ax, path, (6, 4))
    steps = np.asarray(history["step"])
    ax.plot(steps, history["train_loss"], label="train", marker=".")
    val = [np.nan if v is None else v for v in history.get("val_loss", [])]
    if val and not np.all(np.isnan(val)):
        ax.plot(steps, val, label="validation", marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per character)")
    if title is None:
        title = (
            "training history" if history is model_or_history else type(model_or_history).__name__
        )
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)
    return fig


def _embedding_matrix(model) -> np.ndarray:
    import torch

    module = getattr(model, "module_", None)
    if module is None:
        raise ValueError("plot_embeddings needs a fitted model")
    for sub in module.modules():
        if (
            isinstance(sub, torch.nn.Embedding)
            and sub.num_embeddings == model.tokenizer_.vocab_size
        ):
            return sub.weight.detach().cpu().double().numpy()
    raise ValueError(f"{type(model).__name__} has no character embedding (nn.Embedding) to plot")


def plot_embeddings(
    model, *, ax=None, path=None, boundary_label: str = ".", title: str | None = None
):
    """Scatter of the learned character embeddings, each point labelled with its character.

    Embeddings of more than two dimensions are projected on their first two principal
    components (PCA, the share of variance explained is shown on the axes), as in the
    makemore lecture's 2-D embedding plot.

    Parameters
    ----------
    model : fitted CharLM
        A model whose module holds an ``nn.Embedding`` over the vocabulary.
    ax : matplotlib Axes, optional
    path : str or path-like, optional
        Also save the figure to this file.
    boundary_label : str, default="."
        Label of the boundary token (id 0: start padding and end marker).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    weights = _embedding_matrix(model)
    labels = [boundary_label] + [_visible(c) for c in model.tokenizer_.chars]
    n_embd = weights.shape[1]
    if n_embd > 2:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2).fit(weights)
        points = pca.transform(weights)
        ratio = pca.explained_variance_ratio_
        xlabel, ylabel = f"PC 1 ({ratio[0]:.0%} of variance)", f"PC 2 ({ratio[1]:.0%})"
    elif n_embd == 2:
        points, xlabel, ylabel = weights, "dimension 1", "dimension 2"
    else:
        points = np.column_stack([weights[:, 0], np.zeros(len(weights))])
        xlabel, ylabel = "dimension 1", ""
    fig, ax = _figure_and_axes(ax, path, (6, 6))
    ax.scatter(points[:, 0], points[:, 1], s=220, color="tab:blue", alpha=0.25)
    for (x, y), label in zip(points, labels):
        ax.annotate(label, (x, y), ha="center", va="center", fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{type(model).__name__} character embeddings (n_embd={n_embd})")
    ax.grid(alpha=0.3)
    _save(fig, path)
    return fig


def _visible(char: str) -> str:
    names = {" ": "␣", "\n": "⏎", "\t": "⇥", "$": r"\$"}
    return names.get(char, char)


def plot_lr_find(result, *, ax=None, path=None, title: str | None = None):
    """Loss against learning rate (log scale) of a :func:`charzoo.lr_find` sweep.

    Shows the raw per-step losses, their moving average and the suggested rate.

    Parameters
    ----------
    result : LRFindResult or tuple (rates, losses, suggested_lr)
    ax : matplotlib Axes, optional
    path : str or path-like, optional
        Also save the figure to this file.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from charzoo.lr_finder import smooth_losses

    rates, losses, suggested = result
    rates, losses = np.asarray(rates), np.asarray(losses)
    fig, ax = _figure_and_axes(ax, path, (6, 4))
    ax.plot(rates, losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="loss per step")
    ax.plot(rates, smooth_losses(losses), color="tab:blue", label="moving average")
    ax.axvline(suggested, color="tab:red", linestyle="--", label=f"suggested {suggested:.2g}")
    ax.set_xscale("log")
    low, high = np.percentile(losses, [0, 95])
    ax.set_ylim(low - 0.05 * (high - low), high + 0.1 * (high - low))
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(title or "learning-rate sweep")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    _save(fig, path)
    return fig
