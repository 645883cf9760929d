"""Drawing of an SOP with Graphviz: one cluster per lane (owner), critical steps marked.

The drawing shows the flow cxmine converted (after sub-processes were
flattened and boundary events turned into alternatives), so what you see is
what conformance checks against.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.atomic import atomic_path
from engine.errors import AnalysisError

FORMATS = ("svg", "png", "pdf", "dot")
GATEWAY_LABELS = {"xor": "×", "and": "+", "or": "○"}


def _text(label: str) -> str:
    """Graphviz treats backslashes in labels as escapes; keep them literal."""
    return label.replace("\\", "\\\\")


def build_sop_graph(sop):
    """A graphviz.Digraph of the SOP: lanes as clusters, tasks as boxes, gateways as diamonds."""
    import graphviz

    model = sop.model
    graph = graphviz.Digraph(name=sop.name, graph_attr={"rankdir": "LR", "fontname": "Helvetica",
                                                        "label": _text(sop.name), "labelloc": "t",
                                                        "fontsize": "16", "compound": "true"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"arrowsize": "0.7", "color": "#555555", "fontname": "Helvetica"})
    by_owner: dict[str | None, list] = {}
    for node in model.nodes:
        by_owner.setdefault(node[3], []).append(node)
    for i, (owner, nodes) in enumerate(sorted(by_owner.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))):
        target = graph
        if owner is not None:
            target = graphviz.Digraph(name=f"cluster_{i}", graph_attr={
                "label": _text(owner), "style": "rounded,filled", "fillcolor": "#f4f6fa", "color": "#8a94a6",
                "fontsize": "13", "labeljust": "l"})
        for ident, kind, name, _ in nodes:
            _add_node(target, sop, ident, kind, name)
        if owner is not None:
            graph.subgraph(target)
    for flow_id, src, tgt in model.flows:
        label = model.flow_labels.get(flow_id)
        if label:
            graph.edge(src, tgt, xlabel=_text(label), fontsize="9", fontcolor="#555555")
        else:
            graph.edge(src, tgt)
    return graph


def _add_node(target, sop, ident: str, kind: str, name: str) -> None:
    if kind == "task":
        critical = name in sop.critical
        target.node(ident, _text(name or "(unnamed)"), shape="box", style="rounded,filled",
                    fillcolor="#fde2e1" if critical else "#ffffff", color="#c0392b" if critical else "#34495e",
                    penwidth="2.2" if critical else "1.2",
                    tooltip=_text("compliance-critical" if critical else name or ident))
    elif kind in ("start", "end"):
        target.node(ident, "", shape="circle", width="0.35", style="filled",
                    fillcolor="#d5f5e3" if kind == "start" else "#fadbd8",
                    penwidth="1.2" if kind == "start" else "3", xlabel=_text(name), tooltip=_text(name or kind))
    else:
        target.node(ident, GATEWAY_LABELS.get(kind, ""), shape="diamond", width="0.4", height="0.4",
                    fixedsize="true", fontsize="12", style="filled", fillcolor="#fef9e7")


def render_sop(sop, output: str | Path) -> Path:
    """Write the drawing to OUTPUT (format from the suffix: .svg, .png, .pdf or .dot), atomically."""
    output = Path(output)
    fmt = output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise AnalysisError(f"Cannot render to '{output.name}': unknown format '{fmt or '(none)'}'", field="output",
                            hint=f"Use one of the suffixes: {', '.join('.' + f for f in FORMATS)}")
    graph = build_sop_graph(sop)
    if fmt == "dot":
        data = graph.source.encode("utf-8")
    else:
        if shutil.which("dot") is None:
            raise AnalysisError("Graphviz 'dot' is not installed, so the SOP cannot be drawn as " + fmt,
                                field="output", hint="Install Graphviz (apt-get install graphviz) or write .dot")
        data = graph.pipe(format=fmt)
    with atomic_path(output) as tmp:
        tmp.write_bytes(data)
        tmp.chmod(0o644)  # a drawing is meant to be shared (the temporary file starts as 0600)
    return output
