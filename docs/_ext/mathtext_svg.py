"""Render the docs' math at build time as inline SVG, with matplotlib's mathtext.

The pages then show formulas offline and without JavaScript (MathJax would be fetched from a
CDN). matplotlib is already a docs dependency; mathtext covers the TeX subset the docs use
(fractions, roots, sub/superscripts, Greek, ``\\operatorname``, ``\\mathbb``, ``\\left(``
... ``\\right)``); a formula outside it fails the build with the formula in the message.
The TeX source stays in the page as the image's alt text.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from functools import cache

from docutils import nodes
from sphinx.errors import ExtensionError


@cache
def _svg_uri(latex: str, size: float) -> str:
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buffer = io.BytesIO()
    tex = " ".join(latex.split())
    try:
        mathtext.math_to_image(f"${tex}$", buffer, format="svg", prop=FontProperties(size=size))
    except ValueError as exc:
        raise ExtensionError(f"matplotlib mathtext cannot render {tex!r}: {exc}") from None
    svg = buffer.getvalue()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _img(latex: str, css: str, size: float) -> str:
    alt = html.escape(" ".join(latex.split()), quote=True)
    return f'<img class="{css}" src="{_svg_uri(latex, size)}" alt="{alt}" title="{alt}"/>'


def visit_math(self, node: nodes.Element) -> None:
    self.body.append(_img(node.astext(), "math math-inline", 11.0))
    raise nodes.SkipNode


def visit_math_block(self, node: nodes.Element) -> None:
    latex = node["latex"] if "latex" in node else node.astext()
    self.body.append(self.starttag(node, "div", CLASS="math math-display"))
    self.body.append(_img(latex, "math-display-img", 13.0))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    # mathtext logs each glyph it takes from a fallback font at INFO level
    logging.getLogger("matplotlib.mathtext").setLevel(logging.WARNING)
    app.add_html_math_renderer(
        "mathtext_svg",
        inline_renderers=(visit_math, None),
        block_renderers=(visit_math_block, None),
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
