"""Graphviz drawings written to disk: label quoting and rendering by file suffix.

Labels from the data (activity names, owners, file names) may hold ``<``,
``>``, ``&``, quotes, backslashes and any Unicode. ``dot_text`` makes them
plain Graphviz text: never an HTML-like label, backslashes literal, line
breaks kept. Graphviz then escapes them itself in SVG.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.atomic import atomic_path
from engine.errors import UsageError

FORMATS = ("svg", "png", "pdf", "dot")


def dot_text(text: str):
    """Plain Graphviz label text: ``\\n`` for new lines, every other character literal."""
    from graphviz import nohtml
    return nohtml(str(text).replace("\\", "\\\\").replace("\n", "\\n"))


def check_format(output: str | Path) -> str:
    """The drawing format of OUTPUT's suffix; UsageError for any other suffix."""
    output = Path(output)
    fmt = output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UsageError(f"Cannot draw to '{output.name}': unknown format '{fmt or '(none)'}'",
                         hint=f"Use one of the suffixes: {', '.join('.' + f for f in FORMATS)}")
    if fmt != "dot" and shutil.which("dot") is None:
        raise UsageError(f"Graphviz 'dot' is not installed, so the drawing cannot be written as {fmt}",
                         hint="Install Graphviz (apt-get install graphviz) or write .dot")
    return fmt


def render_graph(graph, output: str | Path) -> Path:
    """Write a graphviz graph to OUTPUT (.svg, .png, .pdf or .dot) atomically, readable by everyone."""
    output = Path(output)
    fmt = check_format(output)
    data = graph.source.encode("utf-8") if fmt == "dot" else graph.pipe(format=fmt)
    with atomic_path(output) as tmp:
        tmp.write_bytes(data)
        tmp.chmod(0o644)
    return output
