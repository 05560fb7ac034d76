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


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for line, code in python_blocks(page):
        compiled = compile(code, f"{page}:{line}", "exec")
        try:
            exec(compiled, namespace)
        except Exception as exc:
            raise AssertionError(f"the code block at {page.name}:{line} failed: {exc!r}") from exc


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


def test_every_builtin_model_has_a_zoo_section(gen_results):
    import charzoo

    zoo = (DOCS / "zoo.md").read_text(encoding="utf-8")
    for name in charzoo.list_models():
        info = charzoo.model_info(name)
        if info.package == "charzoo":
            cls = info.cls.__name__
            assert f"_generated/results_{cls}.md" in zoo, f"zoo.md has no section for {cls}"
