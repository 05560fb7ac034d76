"""Generate the model-zoo tables of the docs from the code and the benchmark results.

Never type a result by hand: ``benchmarks/*.py`` append one JSON object per run to
``benchmarks/results/<name>.jsonl``; this script turns them into Markdown tables that
``docs/zoo.md`` includes, and documents each model's hyperparameters from its signature and
numpydoc docstring. The Sphinx build (``docs/conf.py``) runs it; by hand::

    python docs/gen_results.py [benchmarks/results] [docs/_generated]
"""

from __future__ import annotations

import inspect
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

__all__ = [
    "load_results",
    "measurements_table",
    "models_table",
    "params_table",
    "results_table",
    "write_all",
]

# parameters every model has, documented once in the user guide rather than per model
COMMON = {"mode", "handle_unknown", "device", "verbose", "random_state", "callbacks", "n_threads"}
# run settings that say nothing about the model itself
NOT_HYPER = COMMON | {"eval_interval", "warm_start", "n_iter_no_change", "precision", "compile"}


def load_results(results_dir: Path) -> list[dict]:
    """Every row of every ``*.jsonl`` file, each tagged with ``benchmark`` (the file stem)."""
    rows = []
    for path in sorted(Path(results_dir).glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON object: {exc}") from None
            row.setdefault("benchmark", path.stem)
            rows.append(row)
    return rows


def _model_classes() -> dict[str, type]:
    import charzoo

    return {charzoo.get_model_class(n).__name__: charzoo.get_model_class(n) for n in
            charzoo.list_models()}  # fmt: skip


def models_table() -> str:
    """Markdown table of the built-in models: name, class, description.

    Plugins the builder happens to have installed are left out, so the published page is the
    same wherever it is built; ``charzoo models`` lists a user's own plugins.
    """
    import charzoo

    lines = ["| name | class | description |", "|---|---|---|"]
    for name in charzoo.list_models():
        info = charzoo.model_info(name)
        if info.package != "charzoo":
            continue
        lines.append(f"| `{name}` | `{info.cls.__name__}` | {_cell(info.description)} |")
    return "\n".join(lines) + "\n"


def presets_table() -> str:
    """Markdown table of the built-in models' presets (``charzoo fit --preset NAME``), read
    from the registry as ``charzoo models --presets`` lists them."""
    import charzoo

    lines = ["| model | preset | settings |", "|---|---|---|"]
    for name in charzoo.list_models():
        info = charzoo.model_info(name)
        if info.package != "charzoo":
            continue
        for preset, params in sorted((getattr(info.cls, "presets", None) or {}).items()):
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            lines.append(f"| `{name}` | `{preset}` | {_cell(shown)} |")
    return "\n".join(lines) + "\n"


def _non_default(params: dict, cls: type | None) -> str:
    defaults = {}
    if cls is not None:
        defaults = {
            k: p.default
            for k, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
    changed = [
        f"{k}={v!r}"
        for k, v in sorted(params.items())
        if k not in NOT_HYPER and (k not in defaults or defaults[k] != v)
    ]
    return ", ".join(changed) or "defaults"


def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def results_table(rows: list[dict], cls: type | None = None) -> str:
    """A Markdown table of benchmark rows (best test NLL first); quick CI runs are left out.

    Rows of other classes than ``cls`` (all rows when ``cls`` is None) name their model.
    """
    rows = [r for r in rows if not r.get("quick")]
    if not rows:
        return "*No benchmark results recorded yet.*\n"
    rows = sorted(rows, key=lambda r: (r.get("test_nll") is None, r.get("test_nll") or 0))
    lines = [
        "| benchmark | data | hyperparameters (non-default) | test NLL (nats/char) | "
        "perplexity | bits/char | parameters | steps | fit time (s) | threads | date |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    r["benchmark"]
                    if cls is not None and r.get("model") == cls.__name__
                    else f"{r['benchmark']}: {r.get('model', '?')}",
                    r.get("dataset", "names"),
                    f"`{_non_default(r.get('params', {}), cls)}`",
                    _fmt(r.get("test_nll"), ".4f"),
                    _fmt(r.get("perplexity"), ".3f"),
                    _fmt(r.get("bits_per_char"), ".3f"),
                    _fmt(r.get("n_parameters"), ",d"),
                    _fmt(r.get("steps"), ",d"),
                    _fmt(r.get("fit_seconds"), ".1f"),
                    _fmt(r.get("threads"), "d"),
                    r.get("date", "–"),
                )
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def _myst_roles(text: str) -> str:
    """Turn reST roles (``:class:`x```) into MyST roles (``{class}`x```)."""
    return re.sub(r":(\w+(?::\w+)?):`", r"{\1}`", text)


def params_table(cls: type) -> str:
    """Markdown table of a model's own hyperparameters: name, default, description."""
    import warnings

    from numpydoc.docscrape import ClassDoc

    docs: dict[str, str] = {}
    # the class's own description wins; an inherited parameter takes its base class's
    for klass in reversed([k for k in cls.__mro__ if k.__module__.startswith("charzoo")]):
        with warnings.catch_warnings():  # numpydoc warns about custom sections
            warnings.simplefilter("ignore")
            parsed = ClassDoc(klass, config={"show_class_members": False})
        for param in parsed["Parameters"]:
            for name in param.name.split(","):
                if not param.desc:
                    continue
                own, inherited = " ".join(param.desc), docs.get(name.strip())
                # a short note on a changed default ("Defaults 128, ...") keeps the meaning
                short = inherited and len(own) < 80 and own not in inherited
                docs[name.strip()] = f"{inherited} {own}" if short else own
    from charzoo.neural import NeuralMixin

    training_defaults = {
        k: p.default for k, p in inspect.signature(NeuralMixin.__init__).parameters.items()
    }
    lines = ["| parameter | default | meaning |", "|---|---|---|"]
    for name, p in inspect.signature(cls).parameters.items():
        if name in COMMON or p.kind is p.VAR_KEYWORD:
            continue
        if name in training_defaults and training_defaults[name] == p.default:
            continue  # a shared training parameter left at the shared default
        if name not in docs:
            raise ValueError(f"{cls.__name__}: parameter {name!r} is documented nowhere")
        desc = docs[name]
        lines.append(f"| `{name}` | `{p.default!r}` | {_cell(_myst_roles(desc))} |")
    return "\n".join(lines) + "\n"


def measurements_table(rows: list[dict]) -> str:
    """Markdown table of the speed/scaling records: benchmark, model and every numeric figure."""
    if not rows:
        return "*No measurements recorded yet.*\n"
    skip = {"threads", "n_parameters", "reps"}
    lines = ["| benchmark | what | figures | passed | threads | date |"]
    lines.append("|---|---|---|---|--:|---|")
    for r in rows:
        figures = []
        for key, value in r.items():
            if isinstance(value, dict) and isinstance(value.get("median"), (int, float)):
                value = value["median"]
            if isinstance(value, float) and key not in skip:
                figures.append(f"{key}={value:.4g}")
            elif (
                isinstance(value, bool)
                and key != "passed"
                or (isinstance(value, int) and not isinstance(value, bool) and key not in skip)
            ):
                figures.append(f"{key}={value}")
        what = " ".join(str(r[k]) for k in ("section", "model", "name") if r.get(k)) or "-"
        lines.append(
            f"| {r['benchmark']} | {_cell(what)} | {_cell(', '.join(figures))} | "
            f"{r.get('passed', '-')} | {_fmt(r.get('threads'), 'd')} | {r.get('date', '-')} |"
        )
    return "\n".join(lines) + "\n"


def write_all(results_dir: Path, out_dir: Path) -> list[Path]:
    """Write ``results_<Class>.md``, ``params_<Class>.md``, ``results_other.md``, ``models.md``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    classes = _model_classes()
    by_model: dict[str, list[dict]] = defaultdict(list)
    speed_rows = []
    for row in load_results(results_dir):
        if isinstance(row.get("test_nll"), (int, float)):
            by_model[row.get("model", "?")].append(row)
        elif not row.get("quick") and not row.get("smoke"):
            speed_rows.append(row)  # speed, scaling and other measurements without a test NLL
    written = []

    def write(name: str, text: str) -> None:
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")  # unchanged files keep Sphinx's cache
        written.append(path)

    for cls_name, cls in sorted(classes.items()):
        write(f"results_{cls_name}.md", results_table(by_model.pop(cls_name, []), cls))
        write(f"params_{cls_name}.md", params_table(cls))
    other = [r for rows in by_model.values() for r in rows]
    text = results_table(other) if other else "*None.*\n"
    write("results_other.md", text)
    write("models.md", models_table())
    write("presets.md", presets_table())
    scaling = [r for r in speed_rows if r["benchmark"] in ("grid_search", "ddp")]
    write("scaling.md", measurements_table(scaling))
    write("measurements.md", measurements_table([r for r in speed_rows if r not in scaling]))
    return written


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "benchmarks" / "results"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "docs" / "_generated"
    for path in write_all(results, out):
        print(path)
