"""Small pretrained models shipped inside the package, ready to sample and score.

>>> import charzoo
>>> charzoo.list_pretrained()
['names-gru', 'names-ngram']
>>> model = charzoo.pretrained("names-ngram")
>>> len(model.generate(3, random_state=0))
3

The files live next to this module, in charzoo's safe ``.cz`` format (tensors and
JSON, loaded without unpickling code). ``benchmarks/train_pretrained.py`` trains them again,
deterministically, from the bundled corpora; its ``--check`` prints each model's test
perplexity on the names test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

__all__ = ["PretrainedInfo", "list_pretrained", "pretrained", "pretrained_info"]


@dataclass(frozen=True)
class PretrainedInfo:
    """A shipped model: its name, file, the model and data it was trained on."""

    name: str
    filename: str
    model: str
    params: dict
    data: str
    description: str


# The recipe of every shipped model; benchmarks/train_pretrained.py trains exactly these.
_MODELS = {
    info.name: info
    for info in [
        PretrainedInfo(
            "names-ngram",
            "names-ngram.cz",
            "ngram",
            {"order": 3},
            "names",
            "trigram, interpolated modified Kneser-Ney, on the names train split",
        ),
        PretrainedInfo(
            "names-gru",
            "names-gru.cz",
            "gru",
            {
                "n_embd": 24,
                "n_hidden": 128,
                "n_layers": 1,
                "dropout": 0.0,
                "max_steps": 3000,
            },
            "names",
            "one-layer GRU (128 units) on the names train split, best validation weights",
        ),
    ]
}


def list_pretrained() -> list[str]:
    """Names of the pretrained models shipped with charzoo, sorted.

    Returns
    -------
    list of str
    """
    return sorted(_MODELS)


def pretrained_info(name: str) -> PretrainedInfo:
    """The :class:`PretrainedInfo` of a shipped model (``ValueError`` if unknown)."""
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(
            f"no pretrained model {name!r}; available: {', '.join(list_pretrained())}"
        ) from None


def pretrained(name: str, device: str | None = None):
    """Load a pretrained model shipped with charzoo, ready to ``generate`` and ``score``.

    Parameters
    ----------
    name : str
        One of :func:`list_pretrained`, e.g. ``"names-gru"`` or ``"names-ngram"``.
    device : str, optional
        Where to put the weights (default: the CPU, or CUDA when available).

    Returns
    -------
    CharLM
        A fitted estimator.

    Examples
    --------
    >>> import charzoo
    >>> model = charzoo.pretrained("names-gru")
    >>> names = model.generate(5, prefix="m", temperature=0.8, random_state=0)
    >>> all(n.startswith("m") for n in names)
    True
    """
    from charzoo.persistence import load_model

    info = pretrained_info(name)
    resource = resources.files(__package__).joinpath(info.filename)
    with resources.as_file(resource) as path:
        if not path.exists():
            raise FileNotFoundError(
                f"the pretrained model file {info.filename} is missing from this charzoo "
                "installation; reinstall charzoo or run benchmarks/train_pretrained.py"
            )
        return load_model(path, device=device)
