"""Directly-follows graphs as tables, text and JSON: what ``cxmine dfg`` prints and writes.

A graph set is a list of ``(attribute, label, Dfg, PerformanceDfg)``; the
whole log comes first with attribute and label None, then one entry per
segment, attribute by attribute.
"""

from __future__ import annotations

from pathlib import Path

from engine.report.numbers import format_count
from engine.report.tables import render_table, write_csv

EDGE_HEADERS = ["source", "target", "count", "mean_s", "median_s", "p90_s", "min_s", "max_s"]
EDGE_UNITS = [None, None, "count", "s", "s", "s", "s", "s"]


def edge_rows(freq, perf) -> list[list]:
    """One row per edge, most frequent first; times in seconds."""
    rows = []
    for (a, b), c in sorted(freq.edges.items(), key=lambda kv: (-kv[1], kv[0])):
        t = perf.edges[(a, b)]
        rows.append([a, b, c, t.mean_s, t.median_s, t.p90_s, t.min_s, t.max_s])
    return rows


def _counted(counts: dict) -> str:
    return ", ".join(f"{a} ({format_count(c)})" for a, c in sorted(counts.items(), key=lambda kv: -kv[1]))


def render_dfg(graphs: list, measure: str, top: int) -> str:
    """The terminal view: per graph, the top edges with human times, then start and end activities."""
    out = []
    for attr, label, f, p in graphs:
        title = (f"{attr} = {label}: " if attr is not None else "") + \
            f"{format_count(f.n_cases)} cases, {format_count(len(f.edges))} edges ({measure})"
        out.append(render_table(EDGE_HEADERS, edge_rows(f, p)[:top], title=title, units=EDGE_UNITS))
        out.append(f"start: {_counted(f.start_activities)}\nend:   {_counted(f.end_activities)}\n")
    return "\n".join(out)


def _graph_document(f, p, measure: str) -> dict:
    d = f.as_dict()
    d["edges"] = [{**e, **p.edges[(e["source"], e["target"])].as_dict()} for e in d["edges"]]
    d["measure"] = measure
    return d


def dfg_document(graphs: list, measure: str, by: tuple[str, ...] = ()) -> dict:
    """The JSON document: the whole log's graph; with ``by``, ``{"overall", "by", "segments"}``
    where segments maps attribute -> label -> graph."""
    _, _, f, p = graphs[0]
    overall = _graph_document(f, p, measure)
    if not by:
        return overall
    segments: dict[str, dict] = {attr: {} for attr in by}
    for attr, label, f, p in graphs[1:]:
        segments[attr][label] = _graph_document(f, p, measure)
    return {"overall": overall, "by": list(by), "segments": segments}


def write_dfg_csv(folder, graphs: list) -> list[Path]:
    """dfg_edges.csv and dfg_activities.csv, one row per (attribute, segment, ...); the whole log as all/all."""
    keys = [("all", "all") if attr is None else (attr, label) for attr, label, _, _ in graphs]
    rows = [[*k] + r for k, (_, _, f, p) in zip(keys, graphs) for r in edge_rows(f, p)]
    written = [write_csv(folder, "dfg_edges.csv", ["attribute", "segment"] + EDGE_HEADERS, rows)]
    rows = [[*k, kind, a, c] for k, (_, _, f, _) in zip(keys, graphs)
            for kind, d in (("start", f.start_activities), ("end", f.end_activities), ("all", f.activity_counts))
            for a, c in sorted(d.items())]
    written.append(write_csv(folder, "dfg_activities.csv", ["attribute", "segment", "kind", "activity", "count"],
                             rows))
    return written
