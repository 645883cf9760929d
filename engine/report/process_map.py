"""Drawing of a process map with Graphviz, in the manner of Disco and Celonis.

Boxes are activities with how often they ran, shaded by that count, grouped
in one lane (cluster) per owning team; arrows are directly-follows edges
labelled with their count (``frequency``) or their median / p90 time, with
thickness and colour by that measure; a start and an end node. The title
says what the map shows and what it leaves out; a legend explains the marks.
"""

from __future__ import annotations

import math
from pathlib import Path

from engine.report.drawing import dot_text, render_graph
from engine.report.numbers import format_duration

NODE_FILLS = ("#f2f7fc", "#dbe9f6", "#bcd6ee", "#92bee1", "#5f9fd0", "#2f7bbf")
FREQ_COLOURS = ("#9fb3c8", "#7f9bb6", "#5d7f9f", "#3f6587", "#284c6f", "#17324f")
TIME_COLOURS = ("#c9b98f", "#e0a43a", "#e07b24", "#d1521b", "#b02a17", "#7f0f0f")
MEASURE_NAMES = {"frequency": "count", "median": "median time", "p90": "90th percentile time"}


def _step(value: float, top: float, n: int) -> int:
    """Bucket 0..n-1 of value on a square-root scale up to top (readable for long-tailed counts)."""
    if top <= 0 or value <= 0:
        return 0
    return min(n - 1, int(math.sqrt(value / top) * n))


def map_notes(pmap) -> list[str]:
    """The lines that say what the map shows and what it hides."""
    lines = []
    if pmap.n_variants:
        lines.append(f"Showing the {pmap.n_variants_shown:,} most frequent of {pmap.n_variants:,} variants: "
                     f"{pmap.n_cases_shown:,} of {pmap.n_cases:,} contacts ({pmap.share_shown:.1%})"
                     + (f", coverage {pmap.coverage:.0%} asked" if pmap.coverage < 1 else ""))
    else:
        lines.append(f"{pmap.n_cases:,} contacts")
    hidden = []
    if pmap.hidden_activities:
        names = ", ".join(pmap.hidden_activities[:4]) + (", ..." if len(pmap.hidden_activities) > 4 else "")
        hidden.append(f"{len(pmap.hidden_activities):,} of {len(pmap.activities) + len(pmap.hidden_activities):,} "
                      f"activities ({names})")
    if pmap.hidden_by_coverage:
        hidden.append(f"{pmap.hidden_by_coverage:,} paths only in the other variants")
    if pmap.hidden_by_min_edge:
        hidden.append(f"{pmap.hidden_by_min_edge:,} paths seen fewer than {pmap.min_edge:,} times")
    lines.append(("Hidden: " + "; ".join(hidden)) if hidden else "Nothing hidden: every activity and path is drawn")
    return lines


def _legend_text(pmap) -> str:
    what = MEASURE_NAMES[pmap.measure]
    lines = ["How to read this map",
             "Box: activity, with how many times it ran (darker = more often)",
             "Arrow: one step directly followed by the next; "
             + ("label = times it happened" if pmap.measure == "frequency"
                else f"label = {what} between the two steps (start to start), then times it happened"),
             f"Thicker and {'darker' if pmap.measure == 'frequency' else 'redder'} arrow = higher {what}",
             "Grey frame: the team that runs the activity most often"]
    linked = {a for e in pmap.edges for a in e} | set(pmap.starts) | set(pmap.ends)
    if set(pmap.activities) - linked:
        lines.append("Box without arrows: all its paths are below the minimum count")
    return "\n".join(lines)


def _edge_label(pmap, edge, count: int) -> str:
    if pmap.measure == "frequency":
        return f"{count:,}"
    return f"{format_duration(pmap.edge_times[edge])}\n({count:,})"


def build_map_graph(pmap, title: str = "Process map"):
    """A graphviz.Digraph of the map: lanes by owner, counts and times on the arrows, notes in the title."""
    import graphviz

    label = "\n".join([title] + map_notes(pmap))
    graph = graphviz.Digraph(graph_attr={"rankdir": "TB", "fontname": "Helvetica", "label": dot_text(label),
                                         "labelloc": "t", "labeljust": "l", "fontsize": "14", "nodesep": "0.35",
                                         "ranksep": "0.45", "newrank": "true"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.7"})
    ids = {a: f"a{i}" for i, a in enumerate(sorted(pmap.activities))}
    top_count = max(pmap.activities.values(), default=0)
    lanes: dict[str | None, list[str]] = {}
    for a in sorted(pmap.activities, key=lambda a: (-pmap.activities[a], a)):
        lanes.setdefault(pmap.owners.get(a), []).append(a)
    for i, (owner, acts) in enumerate(sorted(lanes.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))):
        target = graph if owner is None else graphviz.Digraph(name=f"cluster_{i}", graph_attr={
            "label": dot_text(owner), "style": "rounded,filled", "fillcolor": "#f7f7f7", "color": "#a0a7b4",
            "fontsize": "12", "labeljust": "l", "fontcolor": "#44546a"})
        for a in acts:
            n = pmap.activities[a]
            step = _step(n, top_count, len(NODE_FILLS))
            target.node(ids[a], dot_text(f"{a}\n{n:,}"), shape="box", style="rounded,filled",
                        fillcolor=NODE_FILLS[step], fontcolor="#ffffff" if step >= 4 else "#1b2631",
                        color="#34495e", tooltip=dot_text(f"{a}: {n:,} times"))
        if owner is not None:
            graph.subgraph(target)
    graph.node("start", dot_text("start"), shape="circle", style="filled", fillcolor="#d5f5e3", color="#1e8449",
               fontsize="9", width="0.5", fixedsize="true")
    graph.node("end", dot_text("end"), shape="doublecircle", style="filled", fillcolor="#fadbd8", color="#922b21",
               fontsize="9", width="0.45", fixedsize="true")
    _add_edges(graph, pmap, ids)
    graph.node("legend", dot_text(_legend_text(pmap)), shape="note", fontsize="9", style="filled",
               fillcolor="#fbfbf3", color="#bbbbaa", fontcolor="#333333")
    graph.edge("end", "legend", style="invis")
    return graph


def _add_edges(graph, pmap, ids: dict[str, str]) -> None:
    values = {e: (pmap.edge_times[e] if pmap.measure != "frequency" else c) for e, c in pmap.edges.items()}
    top = max(values.values(), default=0) or 1
    top_count = max(list(pmap.edges.values()) + list(pmap.starts.values()) + list(pmap.ends.values()) + [1])
    colours = FREQ_COLOURS if pmap.measure == "frequency" else TIME_COLOURS
    for (a, b), count in sorted(pmap.edges.items(), key=lambda kv: (-kv[1], kv[0])):
        v = values[(a, b)]
        step = _step(v, top, len(colours))
        width = 0.8 + 5.2 * math.sqrt(max(v, 0) / top)
        graph.edge(ids[a], ids[b], label=dot_text(_edge_label(pmap, (a, b), count)), penwidth=f"{width:.2f}",
                   color=colours[step], fontcolor=colours[max(step, 2)], weight=str(1 + int(8 * count / top_count)),
                   tooltip=dot_text(f"{a} -> {b}: {_edge_label(pmap, (a, b), count)}"))
    for kind, counts in (("start", pmap.starts), ("end", pmap.ends)):
        for a, count in counts.items():
            if a not in ids:
                continue
            width = 0.8 + 3.2 * math.sqrt(count / top_count)
            src, dst = ("start", ids[a]) if kind == "start" else (ids[a], "end")
            graph.edge(src, dst, label=dot_text(f"{count:,}"), penwidth=f"{width:.2f}", style="dashed",
                       color="#7f8c8d", fontcolor="#566573")


def render_map(pmap, output: str | Path, title: str = "Process map") -> Path:
    """Write the map to OUTPUT (.svg, .png, .pdf or .dot) atomically."""
    return render_graph(build_map_graph(pmap, title), output)
