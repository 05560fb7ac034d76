"""The documentation cannot drift from the code.

Every ```python block of every page in docs/ is executed, page by page, in one namespace per
page (later blocks use what earlier ones defined), and the generated model-zoo tables are
checked against the benchmark results they come from. The blocks of README.md and
docs/getting_started.md, which newcomers copy one at a time, must each run on their own, in a
fresh interpreter, within seconds.

A block that must not run (a sketch, a long job) is marked by an HTML comment on the line
just above its fence: ``<!-- doc-test: skip -->``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"(^<!-- doc-test: skip -->[ \t]*\n)?^```python[ \t]*\n(.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
PAGES = sorted(p for p in DOCS.glob("*.md") if FENCE.search(p.read_text(encoding="utf-8")))
STANDALONE = [ROOT / "README.md", DOCS / "getting_started.md"]
# each block takes seconds on an idle 2-core machine (import included); the bound only
# catches a block that trains for real, with room for a CI machine busy with other work
STANDALONE_SECONDS = 150


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """(line number, code) of each ```python block of a Markdown page, skipped ones left out."""
    text = page.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start(2)) + 1, m.group(2))
        for m in FENCE.finditer(text)
        if not m.group(1)
    ]


def test_pages_with_code_are_found():
    names = {p.name for p in PAGES}
    assert {"getting_started.md", "user_guide.md"} <= names


STANDALONE_BLOCKS = [
    (page, line, code) for page in STANDALONE for line, code in python_blocks(page)
]


@pytest.fixture(scope="module")
def standalone_runs(tmp_path_factory):
    """Run every README/getting-started block in its own interpreter, two at a time."""
    from concurrent.futures import ThreadPoolExecutor

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}

    def run(block):
        page, line, code = block
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path_factory.mktemp("block"),
            env=env,
            capture_output=True,
            text=True,
            timeout=2 * STANDALONE_SECONDS,
        )
        return (page.name, line), (proc, time.monotonic() - start)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, STANDALONE_BLOCKS))


@pytest.mark.parametrize(
    "page, line, code", STANDALONE_BLOCKS, ids=[f"{p.name}:{n}" for p, n, _ in STANDALONE_BLOCKS]
)
def test_newcomer_blocks_run_standalone_in_seconds(standalone_runs, page, line, code):
    """Each block as a newcomer pastes it: a fresh interpreter, nothing defined before."""
    proc, seconds = standalone_runs[page.name, line]
    assert proc.returncode == 0, f"{page.name}:{line} failed on its own:\n{proc.stderr[-2000:]}"
    assert seconds < STANDALONE_SECONDS, f"{page.name}:{line} took {seconds:.0f} s"


def test_standalone_pages_have_blocks_and_skips_work(tmp_path):
    assert all(python_blocks(page) for page in STANDALONE)
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- doc-test: skip -->\n```python\nraise SystemExit(1)\n```\n```python\nb = 2\n```\n",
        encoding="utf-8",
    )
    assert python_blocks(page) == [(6, "b = 2\n")]


# pages whose blocks stand alone (each with its imports): each runs as its own script, as a
# reader copying one of them does (the dask block must then guard its worker processes)
INDEPENDENT_BLOCKS = {"scaling.md"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_run(page, tmp_path):
    """A page's blocks, in order, as the one script a reader following it runs (``python
    page.py`` in an empty folder: ``__name__ == "__main__"``, so a block that starts worker
    processes needs its guard); on :data:`INDEPENDENT_BLOCKS` pages, each block alone."""
    blocks = python_blocks(page)
    if page.name in INDEPENDENT_BLOCKS:
        scripts = [(f"{page.stem}_{line}.py", code) for line, code in blocks]
    else:
        # a block written as a module of its own may start with a __future__ import, which
        # is legal only at the top of the one script
        future = "from __future__ import annotations\n"
        body = "\n".join(code.replace(future, "") for _, code in blocks)
        head = future if any(future in code for _, code in blocks) else ""
        scripts = [(f"{page.stem}.py", head + body)]
    for name, code in scripts:
        (tmp_path / name).write_text(code, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, name],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, f"{page.name} ({name}) failed:\n{proc.stderr[-3000:]}"


CONSOLE = re.compile(r"^```console[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
CLI_PAGES = sorted(p for p in DOCS.glob("*.md") if "$ charzoo " in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", CLI_PAGES, ids=lambda p: p.name)
def test_cli_examples_run(page, tmp_path, monkeypatch, capsys):
    """Each ``$ charzoo ...`` line of a console block runs, in order, with exit status 0."""
    from charzoo.cli import main

    commands = [
        line.removeprefix("$ charzoo ")
        for block in CONSOLE.findall(page.read_text(encoding="utf-8"))
        for line in block.splitlines()
        if line.startswith("$ charzoo ")
    ]
    assert commands
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    for command in commands:
        status = main(shlex.split(command))
        out, err = capsys.readouterr()
        assert status == 0, f"charzoo {command}\n{out}\n{err}"


def test_fence_extraction_keeps_blocks_whole():
    text = "intro\n```python\na = 1\n\nb = 2\n```\n```bash\nls\n```\n```python\nc = 3\n```\n"
    assert [m.group(2) for m in FENCE.finditer(text)] == ["a = 1\n\nb = 2\n", "c = 3\n"]


@pytest.fixture
def gen_results():
    pytest.importorskip("numpydoc")  # the docs extra
    sys.path.insert(0, str(DOCS))
    try:
        import gen_results

        yield gen_results
    finally:
        sys.path.remove(str(DOCS))


def test_results_tables_are_generated_from_jsonl(gen_results, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    rows = [
        {"model": "CharMLP", "params": {"block_size": 5, "n_embd": 10, "random_state": 0},
         "test_nll": 2.1, "perplexity": 8.166, "bits_per_char": 3.03, "n_parameters": 12345,
         "fit_seconds": 12.3, "steps": 3000, "threads": 2, "date": "2026-01-01"},
        {"model": "CharMLP", "params": {}, "test_nll": 2.5, "perplexity": 12.18, "quick": True},
        {"model": "SomePluginLM", "params": {"x": 1}, "test_nll": 2.0, "perplexity": 7.39},
    ]  # fmt: skip
    (results / "mine.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "gen"
    gen_results.write_all(results, out)
    mlp = (out / "results_CharMLP.md").read_text()
    # the full run is there with its non-default hyperparameters; the quick CI run is not
    assert "| mine | names | `block_size=5` | 2.1000 | 8.166 | 3.030 | 12,345 | 3,000 |" in mlp
    assert "12.18" not in mlp
    assert "No benchmark results" in (out / "results_CharBigram.md").read_text()
    assert "mine: SomePluginLM" in (out / "results_other.md").read_text()
    assert "`n_embd` | `10` |" in (out / "params_CharMLP.md").read_text()
    assert "`mlp` | `CharMLP`" in (out / "models.md").read_text()


def test_parameter_tables_describe_inherited_parameters_and_presets_come_from_the_registry(
    gen_results,
):
    import charzoo

    for name in charzoo.list_models():
        cls = charzoo.get_model_class(name)
        if cls.__module__.startswith("charzoo"):
            table = gen_results.params_table(cls)
            assert "see the class documentation" not in table, cls.__name__
    assert "| `max_steps` | `5000` | Optimiser steps." in gen_results.params_table(
        charzoo.CharTransformer
    )
    presets = gen_results.presets_table()
    for cls in (charzoo.CharMLP, charzoo.CharGRU, charzoo.CharLSTM, charzoo.CharTransformer):
        for preset in cls.presets:
            assert f"| `{preset}` |" in presets
    assert "`zoo`" not in presets


def test_every_builtin_model_has_a_zoo_section(gen_results):
    import charzoo

    zoo = (DOCS / "zoo.md").read_text(encoding="utf-8")
    for name in charzoo.list_models():
        info = charzoo.model_info(name)
        if info.package == "charzoo":
            cls = info.cls.__name__
            assert f"_generated/results_{cls}.md" in zoo, f"zoo.md has no section for {cls}"


SHELL_BLOCK = re.compile(r"^```bash[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SHORT_STEPS = "5"  # a fit line keeps every option but trains this many steps


def readme_cli_lines() -> list[str]:
    """The ``charzoo ...`` lines of README.md's shell blocks, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        line.strip()
        for block in SHELL_BLOCK.findall(text)
        for line in block.splitlines()
        if line.strip().startswith("charzoo ")
    ]


def shortened(line: str) -> str:
    """A ``charzoo fit`` line with ``--max-steps`` set to :data:`SHORT_STEPS` (added when
    missing); every other line unchanged."""
    if not line.startswith("charzoo fit "):
        return line
    command, hash_, comment = line.partition(" #")
    if "--max-steps" in command:
        command = re.sub(r"--max-steps \d+", f"--max-steps {SHORT_STEPS}", command)
    else:
        command += f" --max-steps {SHORT_STEPS}"
    return command + (hash_ + comment if hash_ else "")


def test_readme_command_lines_run_in_a_shell(tmp_path, names_split):
    """Every ``charzoo`` line of the README, in order, in a shell in an empty folder (fits
    shortened to a few steps; ``test.txt``, the reader's own held-out names, and ``taken.txt``,
    names already taken, are written)."""
    lines = readme_cli_lines()
    assert any("--presets" in line for line in lines)
    assert any(line.startswith("charzoo score names.cz dinos") for line in lines)
    shim = tmp_path / "bin" / "charzoo"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m charzoo "$@"\n')
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "test.txt").write_text("\n".join(names_split[2][:200]) + "\n", encoding="utf-8")
    (work / "taken.txt").write_text("olivia\nsophia\namelia\n", encoding="utf-8")  # --exclude-file
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{shim.parent}:{os.environ['PATH']}"}
    for line in lines:
        proc = subprocess.run(
            ["bash", "-c", shortened(line)], cwd=work, env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-1000:]}\n{proc.stderr[-2000:]}"


def test_shortened_keeps_the_command():
    line = "charzoo fit mlp names -o n.cz --max-steps 5000 --seed 0   # train"
    assert shortened(line) == "charzoo fit mlp names -o n.cz --max-steps 5 --seed 0   # train"
    assert shortened("charzoo fit lstm x -o l.cz") == "charzoo fit lstm x -o l.cz --max-steps 5"
    assert shortened("charzoo info n.cz") == "charzoo info n.cz"
