"""The one table renderer of the benchmarks (no heavy imports: the memory benchmarks load it
before measuring)."""

from __future__ import annotations

__all__ = ["markdown_table"]


def markdown_table(header: list[str], rows: list[list], align: list[str] | None = None) -> str:
    """The one table renderer of the benchmarks: a Markdown table of ``rows`` (cells are
    formatted with ``str``) under ``header``; ``align`` holds one of ``"l"``/``"r"`` per
    column (default: left)."""
    rule = ["--:" if a == "r" else "---" for a in (align or ["l"] * len(header))]
    lines = [header, rule, *([str(cell) for cell in row] for row in rows)]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"
