"""Drawing of an SOP with execution laid on it: the SOP's own flow and lanes, coloured by what contacts did.

Each task shows a bar of the counted contacts (ran as designed, skipped, out
of order, another deviation, not on the contact's path) with the numbers
written under it, and is filled by the share that skipped it or ran it out of
order; compliance-critical tasks have a double frame and a flag. SOP flows
carry the contacts that took them (light grey and dotted when none did);
flows that happen in practice but are not in the SOP are dashed purple arrows
with their contacts. A caption says which contacts are counted and what was
left out; a legend explains the marks.

Labels are Graphviz HTML-like labels; every string from the data goes
through ``html_text``, so ``<``, ``>``, ``&`` and quotes are text, never markup.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

from engine.analyses.sop_execution import END, START
from engine.report.drawing import dot_text, render_graph
from engine.report.numbers import format_share

BAR_COLOURS = {"as_designed": "#4caf50", "skipped": "#d62728", "out_of_order": "#ff9800", "other": "#8d6e63",
               "not_run": "#d5d8dc"}
BAR_NAMES = {"as_designed": "ran as designed", "skipped": "skipped", "out_of_order": "out of order",
             "other": "other deviation (inserted, or contact ended here)", "not_run": "not on the contact's path"}
# fill by the share of contacts that skipped the task or ran it out of order
FILL_STEPS = ((0.005, "#ffffff", "under 0.5%"), (0.02, "#fdf2e0", "0.5% to 2%"), (0.05, "#fad7a0", "2% to 5%"),
              (0.10, "#f5b041", "5% to 10%"), (float("inf"), "#ec7063", "10% or more"))
OUTSIDE = "#8e24aa"
NEVER = "#c4c7cc"
FLOW = "#34495e"
GATEWAY_SYMBOLS = {"xor": "×", "and": "+", "or": "○"}
BAR_WIDTH = 150
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def html_text(text: str) -> str:
    """Data text for an HTML-like Graphviz label: markup characters escaped, line breaks kept."""
    cleaned = _CONTROL.sub(" ", str(text))
    return "<BR/>".join(html.escape(line, quote=True) for line in cleaned.split("\n"))


def _fill(share: float) -> str:
    return next(colour for bound, colour, _ in FILL_STEPS if share < bound)


def _bar(step) -> str:
    parts = [("as_designed", step.counts["as_designed"]), ("skipped", step.counts["skipped"]),
             ("out_of_order", step.counts["out_of_order"]),
             ("other", step.counts["inserted"] + step.counts["ended_early"]), ("not_run", step.counts["not_run"])]
    cells = []
    for key, count in parts:
        if count:
            width = max(2, round(BAR_WIDTH * count / step.contacts))
            cells.append(f'<TD FIXEDSIZE="TRUE" WIDTH="{width}" HEIGHT="9" BGCOLOR="{BAR_COLOURS[key]}"></TD>')
    return "".join(cells) or '<TD HEIGHT="9"></TD>'


def _count_line(label: str, count: int, total: int, colour: str, bold: bool = False) -> str:
    text = html_text(f"{label} {count:,} ({format_share(count / total)})" if total else f"{label} {count:,}")
    text = f"<B>{text}</B>" if bold else text
    return f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="{colour}">{text}</FONT></TD></TR>'


def task_label(step) -> str:
    """The HTML-like label of one task: name, flag, bar and the numbers."""
    rows = [f'<TR><TD ALIGN="LEFT"><B>{html_text(step.task)}</B></TD></TR>']
    if step.critical:
        rows.append('<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#6c3483">⚑ compliance-critical</FONT>'
                    '</TD></TR>')
    rows.append(f'<TR><TD ALIGN="LEFT"><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
                f'<TR>{_bar(step)}</TR></TABLE></TD></TR>')
    n = step.contacts
    rows.append(_count_line("as designed", step.counts["as_designed"], n, "#1e7b34"))
    for key, label, colour in (("skipped", "skipped", "#b71c1c"), ("out_of_order", "out of order", "#c05600")):
        if step.counts[key]:
            rows.append(_count_line(label, step.counts[key], n, colour, bold=step.share(key) >= 0.02))
    other = step.counts["inserted"] + step.counts["ended_early"]
    if other:
        rows.append(_count_line("other deviation", other, n, "#5d4037"))
    if step.counts["not_run"]:
        rows.append(_count_line("not on path", step.counts["not_run"], n, "#7b7d7d"))
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>")


def caption(execution, title: str | None = None, selection: str = "", hidden: str = "") -> str:
    """What the picture shows: the SOP, which contacts are counted, the headlines, what was left out."""
    rule = "; ".join(f"{k} = {', '.join(v)}" for k, v in execution.applies_to.items())
    who = f"those the SOP applies to ({rule})" if rule else "every contact (the SOP has no applies_to)"
    lines = [title or f"{execution.sop}: design against execution",
             f"Counted: {execution.contacts:,} contacts, {who}" + (f", within {selection}" if selection else "")
             + f"; {execution.log_contacts:,} contacts looked at. Every share is of the counted contacts"]
    n = execution.contacts
    worst = sorted((s for s in execution.steps if s.counts["skipped"]), key=lambda s: (-s.counts["skipped"], s.task))
    if worst:
        lines.append("Skipped most: " + ", ".join(
            f"{s.task} {s.counts['skipped']:,} ({format_share(s.share('skipped'))})" for s in worst[:3]))
    if execution.outside:
        lines.append("Leaves the SOP most: " + ", ".join(
            f"{_end_name(f.source)} → {_end_name(f.target)} {f.contacts:,} ({format_share(f.contacts / n)})"
            for f in execution.outside[:3]))
    if hidden:
        lines.append(hidden)
    return "\n".join(lines)


def _end_name(name: str) -> str:
    return {START: "start", END: "end"}.get(name, name)


def legend_label() -> str:
    swatch = '<TD FIXEDSIZE="TRUE" WIDTH="14" HEIGHT="10" BORDER="1" COLOR="#9a9a9a" BGCOLOR="{}"></TD>'
    rows = ['<TR><TD COLSPAN="2" ALIGN="LEFT"><B>How to read this picture</B></TD></TR>',
            '<TR><TD COLSPAN="2" ALIGN="LEFT">Bar in each step: its contacts, by what they did</TD></TR>']
    for key, name in BAR_NAMES.items():
        rows.append(f'<TR>{swatch.format(BAR_COLOURS[key])}<TD ALIGN="LEFT">{html.escape(name)}</TD></TR>')
    rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT">Step colour: share that skipped it or ran it out of order</TD>'
                '</TR>')
    for _, colour, name in FILL_STEPS:
        rows.append(f'<TR>{swatch.format(colour)}<TD ALIGN="LEFT">{html.escape(name)}</TD></TR>')
    rows += ['<TR><TD COLSPAN="2" ALIGN="LEFT">Double frame, ⚑: compliance-critical step (SOP sidecar)</TD></TR>',
             '<TR><TD COLSPAN="2" ALIGN="LEFT">Solid arrow: SOP flow, with the contacts that took it</TD></TR>',
             f'<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT COLOR="#8a8d91">Grey dotted arrow or shape: '
             f'SOP path no contact took</FONT></TD></TR>',
             f'<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT COLOR="{OUTSIDE}">Dashed purple arrow: happens in practice, '
             f'not in the SOP (contacts)</FONT></TD></TR>',
             '<TR><TD COLSPAN="2" ALIGN="LEFT">× exclusive choice   + parallel branches   ○ inclusive</TD></TR>']
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">' + "".join(rows) + "</TABLE>>")


def shown_outside(execution, min_contacts: int = 1, max_flows: int | None = 15):
    """The outside flows drawn (most contacts first) and how many are left out."""
    kept = [f for f in execution.outside if f.contacts >= min_contacts]
    if max_flows is not None:
        kept = kept[:max_flows]
    return kept, len(execution.outside) - len(kept)


def build_execution_graph(execution, title: str | None = None, selection: str = "", min_contacts: int = 1,
                          max_flows: int | None = 15, pinned: bool = False):
    """A graphviz.Digraph of the SOP in its own layout (lanes, gateways) with execution laid on it.

    Flows outside the SOP do not move the steps (Graphviz ``constraint=false``); ``pinned`` gives them
    weight 0 instead, for the few graphs on which Graphviz's ranking fails with unconstrained edges.
    """
    import graphviz

    outside, hidden = shown_outside(execution, min_contacts, max_flows)
    why = ([f"taken by fewer than {min_contacts:,} contacts"] if min_contacts > 1 else []) + (
        [f"beyond the {max_flows:,} most common"] if max_flows is not None else [])
    note = (f"Flows outside the SOP: {len(outside):,} of {len(execution.outside):,} drawn"
            + (f"; {hidden:,} left out ({' or '.join(why)})" if hidden else ""))
    graph = graphviz.Digraph(graph_attr={"rankdir": "TB", "fontname": "Helvetica", "fontsize": "14",
                                         "label": dot_text(caption(execution, title, selection, note)),
                                         "labelloc": "t", "labeljust": "l", "nodesep": "0.3", "ranksep": "0.45",
                                         "newrank": "true"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.7"})
    model = execution.model
    ids = {node[0]: f"n{i}" for i, node in enumerate(model.nodes)}
    traffic = _node_traffic(execution)
    lanes: dict[str | None, list] = {}
    for node in model.nodes:
        lanes.setdefault(node[3], []).append(node)
    for i, (owner, nodes) in enumerate(sorted(lanes.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))):
        target = graph if owner is None else graphviz.Digraph(name=f"cluster_{i}", graph_attr={
            "label": dot_text(owner), "style": "rounded,filled", "fillcolor": "#f6f7f9", "color": "#a0a7b4",
            "fontsize": "12", "labeljust": "l", "fontcolor": "#44546a"})
        for ident, kind, name, _ in nodes:
            _add_node(target, execution, ids[ident], kind, name, traffic.get(ident, 0))
        if owner is not None:
            graph.subgraph(target)
    _add_flows(graph, execution, ids)
    _add_outside(graph, execution, ids, outside, pinned)
    graph.node("legend", legend_label(), shape="note", fontsize="9", style="filled", fillcolor="#fbfbf3",
               color="#bbbbaa", fontcolor="#333333")
    return graph


def _node_traffic(execution) -> dict[str, int]:
    """Contacts through each node: the most of its incoming or outgoing flows."""
    out: dict[str, int] = {}
    for f in execution.flows:
        for node in (f.source_id, f.target_id):
            out[node] = max(out.get(node, 0), f.contacts)
    return out


def _add_node(target, execution, ident: str, kind: str, name: str, traffic: int) -> None:
    if kind == "task" and name:
        step = execution.step(name)
        ran = step.ran or step.deviating
        target.node(ident, task_label(step), shape="box", style="rounded,filled",
                    fillcolor=_fill(step.deviating / step.contacts) if ran else "#f2f3f4",
                    color=("#6c3483" if step.critical else FLOW) if ran else NEVER,
                    penwidth="2" if step.critical else "1.2", peripheries="2" if step.critical else "1",
                    tooltip=dot_text(f"{name}: " + ", ".join(f"{k} {v:,}" for k, v in step.counts.items())))
    elif kind in ("start", "end"):
        target.node(ident, "", shape="circle", width="0.35", style="filled",
                    fillcolor="#d5f5e3" if kind == "start" else "#fadbd8", penwidth="1.2" if kind == "start" else "3",
                    xlabel=dot_text(name), tooltip=dot_text(name or kind))
    elif kind == "task":
        target.node(ident, "", shape="box", width="0.1", height="0.3", style="filled", fillcolor="#555555",
                    tooltip=dot_text("silent step"))
    else:
        target.node(ident, dot_text(GATEWAY_SYMBOLS.get(kind, "")), shape="diamond", width="0.4", height="0.4",
                    fixedsize="true", fontsize="12", style="filled",
                    fillcolor="#fef9e7" if traffic else "#f2f3f4", color=FLOW if traffic else NEVER,
                    fontcolor="#000000" if traffic else NEVER)


def _width(contacts: int, total: int) -> str:
    return f"{0.8 + 4.2 * math.sqrt(contacts / total) if total else 0.8:.2f}"


def _add_flows(graph, execution, ids: dict[str, str]) -> None:
    for f in execution.flows:
        text = (f"{f.label}\n" if f.label else "") + f"{f.contacts:,}"
        if f.contacts:
            graph.edge(ids[f.source_id], ids[f.target_id], label=dot_text(text), color=FLOW, fontcolor="#1b2631",
                       penwidth=_width(f.contacts, execution.contacts),
                       tooltip=dot_text(f"{f.source} -> {f.target}: {f.contacts:,} contacts ({format_share(f.share)})"))
        else:
            graph.edge(ids[f.source_id], ids[f.target_id], label=dot_text(text), color=NEVER, fontcolor="#8a8d91",
                       style="dotted", tooltip=dot_text(f"{f.source} -> {f.target}: no contact took it"))


def _outside_end(execution, ids: dict[str, str], name: str) -> str | None:
    """The node of an outside flow's end: a task, the SOP's first start or end event, or None (not drawn yet)."""
    if name in (START, END):
        wanted = "start" if name == START else "end"
        return next((ids[n[0]] for n in execution.model.nodes if n[1] == wanted), None)
    return next((ids[n[0]] for n in execution.model.nodes if n[1] == "task" and n[2] == name), None)


def _add_outside(graph, execution, ids: dict[str, str], outside, pinned: bool) -> None:
    extra: dict[str, str] = {}
    top = max([f.contacts for f in outside] + [1])
    for f in outside:
        ends = []
        for name in (f.source, f.target):
            node = _outside_end(execution, ids, name)
            if node is None:
                if name not in extra:
                    extra[name] = f"x{len(extra)}"
                    graph.node(extra[name], dot_text(f"{name}\n(not in the SOP)"), shape="box",
                               style="rounded,dashed", color=OUTSIDE, fontcolor=OUTSIDE, fontsize="10",
                               tooltip=dot_text(f"{name}: an activity the SOP does not have"))
                node = extra[name]
            ends.append(node)
        graph.edge(ends[0], ends[1], label=dot_text(f"{f.contacts:,}"), style="dashed", color=OUTSIDE,
                   fontcolor=OUTSIDE, **({"weight": "0"} if pinned else {"constraint": "false"}), penwidth=f"{1 + 2.5 * math.sqrt(f.contacts / top):.2f}",
                   tooltip=dot_text(f"not in the SOP: {f.source} -> {f.target}: {f.contacts:,} contacts "
                                    f"({format_share(f.share)}), {f.times:,} times"))


def render_execution(execution, output: str | Path, title: str | None = None, selection: str = "",
                     min_contacts: int = 1, max_flows: int | None = 15) -> Path:
    """Write the picture to OUTPUT (.svg, .png, .pdf or .dot) atomically."""
    from engine.errors import AnalysisError

    try:
        return render_graph(build_execution_graph(execution, title, selection, min_contacts, max_flows), output)
    except AnalysisError:
        return render_graph(build_execution_graph(execution, title, selection, min_contacts, max_flows, pinned=True),
                            output)


def execution_svg(execution) -> str:
    """The picture as SVG text (for the HTML report)."""
    import subprocess

    try:
        return build_execution_graph(execution).pipe(format="svg", quiet=True).decode("utf-8")
    except subprocess.CalledProcessError:
        return build_execution_graph(execution, pinned=True).pipe(format="svg").decode("utf-8")


_COLUMNS = ("as_designed", "skipped", "out_of_order", "inserted", "ended_early", "not_run")
TASK_HEADERS = ["task", "owner", "critical", "contacts", "ran", *_COLUMNS, *(f"share_{c}" for c in _COLUMNS),
                "examples_skipped", "examples_out_of_order"]
FLOW_HEADERS = ["in_sop", "flow_id", "source_id", "source", "target_id", "target", "label", "contacts", "share",
                "times"]


def write_execution_csv(execution, folder: str | Path) -> list[Path]:
    """tasks.csv (one row per SOP task) and flows.csv (the SOP's flows, then the flows outside it)."""
    from engine.report.tables import write_csv

    tasks = [[s.task, s.owner or "", s.critical, s.contacts, s.ran, *(s.counts[k] for k in _COLUMNS),
              *(s.share(k) for k in _COLUMNS),
              " ".join(s.examples.get("skipped", ())), " ".join(s.examples.get("out_of_order", ()))]
             for s in execution.steps]
    flows = [[True, f.flow_id, f.source_id, f.source, f.target_id, f.target, f.label, f.contacts, f.share, ""]
             for f in execution.flows]
    flows += [[False, "", "", _end_name(f.source), "", _end_name(f.target), "", f.contacts, f.share, f.times]
              for f in execution.outside]
    return [write_csv(folder, "tasks.csv", TASK_HEADERS, tasks), write_csv(folder, "flows.csv", FLOW_HEADERS, flows)]
