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
from engine.errors import AnalysisError

FORMATS = ("svg", "png", "pdf", "dot")


def dot_text(text: str):
    """Plain Graphviz label text: ``\\n`` for new lines, every other character literal."""
    from graphviz import nohtml
    return nohtml(str(text).replace("\\", "\\\\").replace("\n", "\\n"))


def check_format(output: str | Path) -> str:
    """The drawing format of OUTPUT's suffix; AnalysisError (field ``output``) for any other suffix."""
    output = Path(output)
    fmt = output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise AnalysisError(f"Cannot draw to '{output.name}': unknown format '{fmt or '(none)'}'", field="output",
                            hint=f"Use one of the suffixes: {', '.join('.' + f for f in FORMATS)}")
    if fmt != "dot" and shutil.which("dot") is None:
        raise AnalysisError(f"Graphviz 'dot' is not installed, so the drawing cannot be written as {fmt}",
                            field="output", hint="Install Graphviz (apt-get install graphviz) or write .dot")
    return fmt


def render_graph(graph, output: str | Path) -> Path:
    """Write a graphviz graph to OUTPUT (.svg, .png, .pdf or .dot) atomically, readable by everyone."""
    return render_graphs(graph, [output])[0]


def render_graphs(graph, outputs: list[str | Path]) -> list[Path]:
    """Write one graph in several formats from a single Graphviz layout, each file atomically."""
    import contextlib
    import subprocess

    outputs = [Path(o) for o in outputs]
    formats = [check_format(o) for o in outputs]
    source = graph.source.encode("utf-8")
    with contextlib.ExitStack() as stack:
        temps = [stack.enter_context(atomic_path(o)) for o in outputs]
        command = ["dot"]
        for fmt, tmp in zip(formats, temps):
            if fmt == "dot":
                tmp.write_bytes(source)
            else:
                command += [f"-T{fmt}", "-o", str(tmp)]
        if len(command) > 1:
            run = subprocess.run(command, input=source, capture_output=True)
            if run.returncode != 0:
                raise AnalysisError(f"Graphviz could not draw {outputs[0].name}: "
                                    f"{run.stderr.decode('utf-8', 'replace').strip()[:500]}",
                                    hint="Write .dot to keep the source, and check the Graphviz installation")
        for tmp in temps:
            tmp.chmod(0o644)
    return outputs
