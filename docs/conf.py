"""Sphinx configuration of the charzoo documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (warnings are errors).
The gallery runs every example in quick mode (``CHARZOO_QUICK=1``) unless
``CHARZOO_DOCS_FULL=1`` is set; the model-zoo results tables are regenerated from
``benchmarks/results/*.jsonl`` by ``docs/gen_results.py`` on every build.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))
sys.path.insert(0, str(DOCS / "_ext"))

import gen_results  # noqa: E402

import charzoo  # noqa: E402

project = "charzoo"
author = "charzoo developers"
copyright = "2026, charzoo developers"
version = release = charzoo.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "mathtext_svg",  # math rendered at build time: the pages need no CDN (docs/_ext)
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "auto_examples/*.ipynb", "**/*.py.md5"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["config.cache"]  # sphinx-gallery's callables in the config are fine
# the plugin author guide, docs/plugins.md, is listed in the index; until it is written the
# index's reference to it is the one warning tolerated
if not (DOCS / "plugins.md").exists():
    suppress_warnings.append("toc.not_readable")

html_math_renderer = "mathtext_svg"

html_theme = "furo"
html_title = f"charzoo {release}"
html_static_path: list[str] = []

autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # scikit-learn's generated metadata-routing methods document sklearn's own glossary
    "exclude-members": "set_score_request,set_fit_request,get_metadata_routing",
}
autodoc_typehints = "none"  # numpydoc sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# ---------------------------------------------------------------- generated model-zoo tables
gen_results.write_all(ROOT / "benchmarks" / "results", DOCS / "_generated")

# ------------------------------------------------------------------------- examples gallery
QUICK = not os.environ.get("CHARZOO_DOCS_FULL")
if QUICK:
    os.environ["CHARZOO_QUICK"] = "1"
GALLERY_OUTPUT = DOCS / "_build" / "gallery_output"
# start empty: figures left by an earlier build must not be shown as new ones
shutil.rmtree(GALLERY_OUTPUT, ignore_errors=True)
os.environ["CHARZOO_OUTPUT"] = str(GALLERY_OUTPUT)
os.environ.setdefault("OMP_NUM_THREADS", "1")
_seen: dict[Path, float] = {}


def output_file_scraper(block, block_vars, gallery_conf):
    """Show the figures an example wrote to ``CHARZOO_OUTPUT`` (charzoo plots save to files).

    A figure belongs to the example whose file name it starts with, e.g.
    ``names_mlp_history.png`` to ``names_mlp.py``; it is shown after the code block that
    wrote (or rewrote) it.
    """
    from sphinx_gallery.scrapers import figure_rst

    stem = Path(block_vars["src_file"]).stem
    new = []
    for png in sorted(GALLERY_OUTPUT.glob(f"{stem}*.png")):
        mtime = png.stat().st_mtime
        if _seen.get(png) != mtime:
            _seen[png] = mtime
            new.append(png)
    images = []
    for png in new:
        target = next(block_vars["image_path_iterator"])
        shutil.copyfile(png, target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])


sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/[a-z]",  # execute every example (they all print results)
    "ignore_pattern": r"quickstart\.py|/_",
    "image_scrapers": (output_file_scraper,),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "show_memory": False,
    "min_reported_time": 1,
}


# ------------------------------------------------------------------ docstring reference lines
_INITIAL = re.compile(r"^(\s*)([A-Z])\. ")


def escape_initials(app, what, name, obj, options, lines):
    """Keep reference lines such as ``I. H. Witten, ...`` or ``A. Karpathy, ...`` as text.

    reST reads a line starting with one letter and a period as an enumerated list item
    ("A.", "I."), which turns the References of a docstring into lists, or into warnings when
    such a line wraps. Escaping the period keeps the text exactly as written.
    """
    for i, line in enumerate(lines):
        lines[i] = _INITIAL.sub(r"\1\2\\. ", line)


def references_as_list(app, what, name, obj, options, lines):
    """Render each entry of a docstring's References section as a bullet-list item.

    numpydoc passes the section through as one paragraph, which runs the references together.
    An entry starts at the section's first line or after a line ending with a period, and
    continues over the wrapped lines below it.
    """
    in_refs, entry_open = False, False
    for i, line in enumerate(lines):
        text = line.strip()
        if text == ".. rubric:: References":
            in_refs, entry_open = True, False
        elif in_refs and text.startswith(".. "):
            in_refs = False
        elif in_refs and text:
            lines[i] = ("  " if entry_open else "- ") + text
            entry_open = not text.endswith(".")


QUICK_NOTE = """
.. note::

   **Built in quick mode.** This page was rendered with ``CHARZOO_QUICK=1``: the training
   above is a short smoke run, so its numbers, curves and samples are not the results the
   text describes. Run ``python examples/{stem}.py`` for the full run (the zoo page lists
   the recorded benchmark figures of every model).

"""


def mark_quick_gallery_pages(app, docname, source):
    """Say on every rendered example page built in quick mode that its output is a smoke run."""
    stem = docname.rsplit("/", 1)[-1]
    listing = stem in ("index", "sg_execution_times")
    if QUICK and docname.startswith("auto_examples/") and not listing:
        text = source[0]
        # after the title (the first line underlined with "=")
        match = re.search(r"^=+\n", text, re.MULTILINE)
        at = match.end() if match else 0
        source[0] = text[:at] + QUICK_NOTE.format(stem=stem) + text[at:]


def setup(app):
    app.connect("source-read", mark_quick_gallery_pages)
    app.connect("autodoc-process-docstring", escape_initials, priority=600)
    app.connect("autodoc-process-docstring", references_as_list, priority=610)
