"""Short run summaries for the terminal: what ``cxmine ingest`` wrote, what an SOP holds."""

from __future__ import annotations

from engine.report.numbers import format_count


def render_ingest_summary(summary) -> str:
    """records read = accepted + rejected, then the log's cases, events, activities and time span."""
    rejects = f"  (see {summary.rejects_file})" if summary.rejects_file else ""
    return "\n".join([
        f"records read     {format_count(summary.records_read)}",
        f"  accepted       {format_count(summary.records_accepted)}",
        f"  rejected       {format_count(summary.records_rejected)}{rejects}",
        f"cases            {format_count(summary.cases)}",
        f"events           {format_count(summary.events)}",
        f"activities       {format_count(summary.activities)}",
        f"time span        {summary.first_event} .. {summary.last_event}",
        f"log              {summary.output}",
    ])


def describe_sop(sop) -> dict:
    """What ``sop show`` reports about an SOP, as plain data (also its JSON document)."""
    return {
        "name": sop.name,
        "path": str(sop.path),
        "description": sop.description,
        "pools": list(sop.pools),
        "lanes": list(sop.lanes),
        "steps": [{"id": t.id, "name": t.name, "owner": t.owner, "critical": t.critical,
                   "documentation": t.documentation} for t in sop.tasks],
        "owners": sorted({t.owner for t in sop.tasks if t.owner}),
        "critical": sorted(sop.critical),
        "label_map": dict(sop.label_map),
        "cost_per_minute": dict(sop.cost_per_minute),
        "petri_net": sop.net_size(),
        "warnings": list(sop.warnings),
    }


def render_sop_summary(info: dict) -> str:
    """The terminal view of ``describe_sop``: owners, net size, critical steps, steps with owners, costs."""
    net = info["petri_net"]
    out = [f"SOP          {info['name']}", f"file         {info['path']}"]
    if info["pools"]:
        out.append(f"pools        {', '.join(info['pools'])}")
    out += [f"owners       {', '.join(info['owners']) or '-'}",
            f"petri net    {net['places']} places, {net['transitions']} transitions, {net['arcs']} arcs",
            f"critical     {', '.join(info['critical']) or '-'}",
            f"label map    {len(info['label_map'])} log label(s) mapped",
            "steps"]
    width = max((len(s["name"]) for s in info["steps"]), default=4)
    for step in info["steps"]:
        mark = "  [critical]" if step["critical"] else ""
        out.append(f"  {step['name'] or '(unnamed ' + step['id'] + ')':<{width}}  {step['owner'] or '-'}{mark}")
    out += [f"cost/min     {owner}: {cost:g}" for owner, cost in info["cost_per_minute"].items()]
    return "\n".join(out)
