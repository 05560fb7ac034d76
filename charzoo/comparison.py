"""Compare several fitted models on one test set: one table, and their histories side by side.

:func:`compare` scores every model on the same texts and returns a :class:`Comparison`, whose
``str`` is a table (perplexity, bits per character, parameters, fit time) and whose
:meth:`~Comparison.plot` draws the training histories on shared axes; ``charzoo compare
MODEL... --data FILE`` prints the same table.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from charzoo.metrics import bits_per_char

__all__ = ["Comparison", "compare"]

COLUMNS = ("model", "perplexity", "bits/char", "parameters", "fit s")


@dataclass
class Comparison:
    """The result of :func:`compare`: one row per model (best perplexity first)."""

    rows: list[dict] = field(default_factory=list)
    models: dict = field(default_factory=dict)

    def table(self) -> str:
        """The rows as an aligned plain-text table."""
        cells = [COLUMNS]
        for row in self.rows:
            seconds = row["fit_seconds"]
            cells.append((
                row["name"], f"{row['perplexity']:.4f}", f"{row['bits_per_char']:.4f}",
                f"{row['n_parameters']:,}", "-" if seconds is None else f"{seconds:.1f}",
            ))  # fmt: skip
        widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
        lines = [
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                      enumerate(zip(r, widths)))
            for r in cells
        ]  # fmt: skip
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def plot(self, *, path=None, loss: str = "val_loss"):
        """Each model's training history (``loss``: ``"val_loss"`` or ``"train_loss"``)
        against the step, side by side on one axes; models without a history are left out.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from charzoo.plotting import _figure_and_axes, _save

        if loss not in ("val_loss", "train_loss"):
            raise ValueError(f"loss must be 'val_loss' or 'train_loss', got {loss!r}")
        fig, ax = _figure_and_axes(None, path, (7, 4))
        drawn = 0
        for name, model in self.models.items():
            history = getattr(model, "history_", None) or {}
            points = [(s, v) for s, v in zip(history.get("step", []), history.get(loss, []))
                      if v is not None]  # fmt: skip
            if points:
                ax.plot(*zip(*points), marker=".", label=name)
                drawn += 1
        if not drawn:
            raise ValueError(f"none of the models has a {loss} history to plot")
        ax.set_xlabel("step")
        ax.set_ylabel(f"{loss.replace('_', ' ')} (nats per character)")
        ax.grid(alpha=0.3)
        ax.legend()
        _save(fig, path)
        return fig


def _fit_seconds(model) -> float | None:
    seconds = getattr(model, "fit_seconds_", None)
    if isinstance(seconds, Mapping):  # a mixture: per member
        return float(sum(seconds.values()))
    return None if seconds is None else float(seconds)


def _n_parameters(model) -> int:
    module = getattr(model, "module_", None)
    if module is not None and hasattr(module, "parameters"):
        return sum(p.numel() for p in module.parameters()) + sum(
            b.numel() for b in module.buffers()
        )
    return sum(_n_parameters(m) for _, m in getattr(model, "estimators_", []) or [])


def compare(models, texts: Iterable[str], *, train_texts: Iterable[str] | None = None):
    """Score several models on the same ``texts``: perplexity, bits per character,
    parameters (weights and count tables) and fit time, best perplexity first.

    Parameters
    ----------
    models : dict of str to CharLM, or list of CharLM
        Fitted models (or unfitted ones with ``train_texts``); a list is named by class.
    texts : iterable of str
        The test texts, the same for every model.
    train_texts : iterable of str, optional
        Fit every model on these first (timing each fit).

    Returns
    -------
    Comparison
        ``print(result)`` shows the table; ``result.plot()`` the histories.

    Examples
    --------
    >>> from charzoo import CharNGram, compare
    >>> from charzoo.datasets import load_names
    >>> names = load_names()
    >>> result = compare({"2-gram": CharNGram(order=2), "3-gram": CharNGram(order=3)},
    ...                  names[:200], train_texts=names[200:3000])
    >>> [row["name"] for row in result.rows]
    ['3-gram', '2-gram']
    """
    if not isinstance(models, Mapping):
        models = list(models)
        names = [type(m).__name__ for m in models]
        named = {n if names.count(n) == 1 else f"{n}-{i + 1}": m
                 for i, (n, m) in enumerate(zip(names, models))}  # fmt: skip
    else:
        named = dict(models)
    if not named:
        raise ValueError("models is empty; pass at least one model")
    texts = list(texts)
    train = None if train_texts is None else list(train_texts)
    rows = []
    for name, model in named.items():
        seconds = None
        if train is not None:
            start = time.perf_counter()
            model.fit(train)
            seconds = time.perf_counter() - start
        perplexity = float(model.score(texts))
        rows.append({
            "name": str(name), "perplexity": perplexity,
            "bits_per_char": bits_per_char(perplexity), "n_parameters": _n_parameters(model),
            "fit_seconds": seconds if seconds is not None else _fit_seconds(model),
        })  # fmt: skip
    rows.sort(key=lambda r: r["perplexity"])
    return Comparison(rows, named)
