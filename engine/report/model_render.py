"""Files of a discovered model: BPMN 2.0, PNML, PTML (process tree) and a drawing.

The drawing is the model as BPMN (what a process lead reads), one box per
activity with how often it ran, gateways as diamonds (× exclusive choice,
+ parallel), start and end events as circles. When pm4py cannot turn the net
into BPMN, the Petri net is drawn instead (transitions as boxes, places as
circles, silent steps as black bars). Every label from the data is quoted
for Graphviz, never read as markup.
"""

from __future__ import annotations

from pathlib import Path

from engine.atomic import atomic_path
from engine.report.drawing import dot_text, render_graphs

GATEWAY_SYMBOLS = {"ParallelGateway": "+", "ExclusiveGateway": "×", "InclusiveGateway": "○",
                   "EventBasedGateway": "◇"}
DRAWN_DFG_EDGES = 60  # the DFG drawing keeps its most frequent edges; model.pnml and model.bpmn keep all
METHOD_TITLES = {"inductive": "Inductive Miner", "heuristics": "Heuristics Miner", "dfg": "Directly-follows graph"}


def _write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def model_title(model, name: str | None = None) -> str:
    method = METHOD_TITLES.get(model.method, model.method)
    if model.method == "inductive" and model.noise:
        method += f" (infrequent, noise {model.noise:g})"
    head = f"Discovered model: {name}" if name else "Discovered model"
    return (f"{head}\n{method} on {model.n_cases:,} contacts, {model.n_variants:,} variants, "
            f"{len(model.dfg.activity_counts):,} activities")


def _legend(graph, text: str) -> None:
    graph.node("legend", dot_text(text), shape="note", fontsize="9", style="filled", fillcolor="#fbfbf3",
               color="#bbbbaa", fontcolor="#333333")


def _task_label(name: str, counts: dict) -> str:
    n = counts.get(name)
    return name if n is None else f"{name}\n{n:,}×"


def build_bpmn_graph(model, title: str):
    """A graphviz.Digraph of the model's BPMN: tasks with their counts, gateways, start and end."""
    import graphviz

    graph = graphviz.Digraph(graph_attr={"rankdir": "LR", "fontname": "Helvetica", "label": dot_text(title),
                                         "labelloc": "t", "fontsize": "15", "nodesep": "0.3"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"arrowsize": "0.7", "color": "#555555"})
    ids = {}
    for i, node in enumerate(model.bpmn.get_nodes()):
        ident = f"n{i}"
        ids[id(node)] = ident
        kind = type(node).__name__
        name = node.get_name() or ""
        if kind.endswith("Gateway"):
            graph.node(ident, GATEWAY_SYMBOLS.get(kind, ""), shape="diamond", width="0.4", height="0.4",
                       fixedsize="true", style="filled", fillcolor="#fef9e7", fontsize="13")
        elif kind.endswith("StartEvent") or kind.endswith("EndEvent"):
            start = kind.endswith("StartEvent")
            graph.node(ident, "", shape="circle", width="0.3", style="filled",
                       fillcolor="#d5f5e3" if start else "#fadbd8", penwidth="1.2" if start else "3",
                       tooltip="start" if start else "end")
        elif name:
            graph.node(ident, dot_text(_task_label(name, model.dfg.activity_counts)), shape="box",
                       style="rounded,filled", fillcolor="#eaf2fb", color="#34495e")
        else:
            graph.node(ident, "", shape="box", width="0.08", height="0.3", style="filled", fillcolor="#333333",
                       tooltip="silent step")
    for flow in model.bpmn.get_flows():
        s, t = ids.get(id(flow.get_source())), ids.get(id(flow.get_target()))
        if s and t:
            graph.edge(s, t)
    _legend(graph, "Boxes: activities, with how many times they ran\n"
                   "× exclusive choice   + parallel branches\n"
                   "green circle: start   red circle: end")
    return graph


def build_net_graph(model, title: str):
    """A graphviz.Digraph of the Petri net: transitions as boxes, places as circles, silent steps as bars."""
    import graphviz

    graph = graphviz.Digraph(graph_attr={"rankdir": "LR", "fontname": "Helvetica", "label": dot_text(title),
                                         "labelloc": "t", "fontsize": "15"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"arrowsize": "0.7", "color": "#555555"})
    ids = {}
    for i, place in enumerate(sorted(model.net.places, key=lambda p: str(p.name))):
        ids[id(place)] = f"p{i}"
        initial, final = place in model.initial_marking, place in model.final_marking
        graph.node(f"p{i}", "●" if initial else "", shape="doublecircle" if final else "circle", width="0.3",
                   fixedsize="true", fillcolor="#d5f5e3" if initial else "#ffffff", style="filled")
    for i, trans in enumerate(sorted(model.net.transitions, key=lambda t: str(t.name))):
        ids[id(trans)] = f"t{i}"
        if trans.label is None:
            graph.node(f"t{i}", "", shape="box", width="0.08", height="0.3", style="filled", fillcolor="#333333")
        else:
            graph.node(f"t{i}", dot_text(_task_label(trans.label, model.dfg.activity_counts)), shape="box",
                       style="rounded,filled", fillcolor="#eaf2fb", color="#34495e")
    for arc in model.net.arcs:
        graph.edge(ids[id(arc.source)], ids[id(arc.target)])
    _legend(graph, "Petri net (pm4py could not express it as BPMN)\n"
                   "boxes: activities with their counts; bars: silent steps\n"
                   "green place: start; double circle: end")
    return graph


_BPMN_SIZES = {"task": (1.6, 0.7), "gateway": (0.55, 0.55), "event": (0.45, 0.45)}  # inches


def _bpmn_kind(node) -> str:
    name = type(node).__name__
    return "gateway" if name.endswith("Gateway") else "event" if name.endswith("Event") else "task"


def _clip(cx: float, cy: float, w: float, h: float, tx: float, ty: float) -> tuple[float, float]:
    """Where the line from a box's centre towards (tx, ty) leaves the box."""
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(w / 2 / abs(dx) if dx else float("inf"), h / 2 / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def layout_bpmn(bpmn) -> None:
    """Give every BPMN node a position and every flow two waypoints (BPMN DI), left to right.

    pm4py's layouter routes every edge with Graphviz and takes minutes on a
    dense model; node positions with bounded effort and straight flows take
    about a second and open the same in BPMN modellers.
    """
    import graphviz

    nodes = list(bpmn.get_nodes())
    graph = graphviz.Digraph(graph_attr={"rankdir": "LR", "nslimit": "2", "nslimit1": "2", "mclimit": "0.05",
                                         "splines": "false", "nodesep": "0.4", "ranksep": "0.6"})
    for i, node in enumerate(nodes):
        w, h = _BPMN_SIZES[_bpmn_kind(node)]
        graph.node(f"n{i}", "", shape="box", width=str(w), height=str(h), fixedsize="true")
    index = {id(n): f"n{i}" for i, n in enumerate(nodes)}
    for flow in bpmn.get_flows():
        s, t = index.get(id(flow.get_source())), index.get(id(flow.get_target()))
        if s and t:
            graph.edge(s, t)
    boxes, height = {}, 0.0
    for line in graph.pipe(format="plain").decode("utf-8").splitlines():
        parts = line.split()
        if parts[0] == "graph":
            height = float(parts[3])
        elif parts[0] == "node":
            boxes[parts[1]] = tuple(float(v) * 72 for v in parts[2:6])
    layout = bpmn.get_layout()
    for i, node in enumerate(nodes):
        x, y, w, h = boxes[f"n{i}"]
        y = height * 72 - y  # Graphviz's y grows upwards, BPMN DI's downwards
        box = layout.get(node)
        box.set_x(x - w / 2)
        box.set_y(y - h / 2)
        box.set_width(w)
        box.set_height(h)
    for flow in bpmn.get_flows():
        src, tgt = layout.get(flow.get_source()), layout.get(flow.get_target())
        sc = (src.get_x() + src.get_width() / 2, src.get_y() + src.get_height() / 2)
        tc = (tgt.get_x() + tgt.get_width() / 2, tgt.get_y() + tgt.get_height() / 2)
        flow.del_waypoints()
        flow.add_waypoint(_clip(*sc, src.get_width(), src.get_height(), *tc))
        flow.add_waypoint(_clip(*tc, tgt.get_width(), tgt.get_height(), *sc))


def write_model(model, folder: str | Path, name: str | None = None, formats: tuple[str, ...] = ("svg", "png")
                ) -> list[Path]:
    """Write model.bpmn, model.pnml, model.ptml (inductive) and the drawings into FOLDER, each atomically."""
    from pm4py.objects.bpmn.exporter.variants.etree import get_xml_string
    from pm4py.objects.petri_net.exporter.variants.pnml import export_petri_as_string
    from pm4py.objects.process_tree.exporter.variants.ptml import export_tree_as_string

    from concurrent.futures import ThreadPoolExecutor

    folder = Path(folder)
    title = model_title(model, name)
    if model.method == "dfg":
        from engine.report.process_map import build_map_graph
        from engine.analyses.process_map import map_of_dfg
        graph = build_map_graph(map_of_dfg(model.dfg, max_edges=DRAWN_DFG_EDGES), title=title)
    elif model.bpmn is not None:
        graph = build_bpmn_graph(model, title)
    else:
        graph = build_net_graph(model, title)
    with ThreadPoolExecutor(max_workers=1) as pool:  # Graphviz draws while the model files are written
        drawn = pool.submit(render_graphs, graph, [folder / f"model.{fmt}" for fmt in formats])
        written = []
        if model.bpmn is not None:
            layout_bpmn(model.bpmn)
            written.append(_write_bytes(folder / "model.bpmn", get_xml_string(model.bpmn)))
        written.append(_write_bytes(folder / "model.pnml",
                                    export_petri_as_string(model.net, model.initial_marking, model.final_marking)))
        if model.tree is not None:
            written.append(_write_bytes(folder / "model.ptml", export_tree_as_string(model.tree)))
        return written + drawn.result()


def segment_folders(labels) -> dict:
    """A distinct folder name per segment value: path separators, control characters and leading dots replaced."""
    out, used = {}, set()
    for label in labels:
        name = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in str(label)).strip().lstrip(".") or "_"
        while name in used:  # two values that differ only in characters a folder name cannot hold
            name += "_"
        used.add(name)
        out[label] = name
    return out


def write_models(models: dict, out_dir: str | Path, log_name: str, by: str | None = None) -> list[dict]:
    """Write each model (label -> model; label None for the whole log) into OUT_DIR or OUT_DIR/<value>/.

    Returns, per model, its summary with the segment, folder and files written.
    """
    folders = segment_folders([label for label in models if label is not None])
    report = []
    for label, model in models.items():
        folder = Path(out_dir) if label is None else Path(out_dir) / folders[label]
        written = write_model(model, folder, log_name + ("" if label is None else f", {by} = {label}"))
        report.append({**({"segment": label} if label is not None else {}), **model.as_dict(),
                       "folder": str(folder), "files": [str(p) for p in written]})
    return report
