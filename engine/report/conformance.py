"""A conformance result as tables: text for the terminal, CSV files for the folder given.

``conformance_tables`` turns an ``engine.analyses.conformance.ConformanceResult``
into ``(headers, rows)`` per table; ``render_conformance`` prints the summary
and the tables; ``write_conformance_csv`` writes one CSV per table plus
``contacts.csv``, one row per contact with its token counts and fitness.
"""

from __future__ import annotations

from pathlib import Path

from engine.report.tables import render_table, write_csv

CONTACT_COLUMNS = ("missing", "consumed", "remaining", "produced", "unknown", "is_fit", "fitness", "audit_fitness")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def conformance_tables(result) -> dict[str, tuple[list[str], list[list]]]:
    """The result's tables as (headers, rows), for the terminal and for CSV files."""
    return {
        "deviations": (["step", "kind", "owner", "critical", "contacts", "share", "impact", "examples"],
                       [[s.step, s.kind, s.owner, "yes" if s.critical else "", s.contacts, s.share, s.impact,
                         " ".join(s.examples)] for s in result.steps]),
        "segment_deviations": (["attribute", "value", "step", "kind", "contacts", "examples"],
                               [[s.attribute, s.value, s.step, s.kind, s.contacts, " ".join(s.examples)]
                                for s in result.segment_deviations]),
        "segment_fitness": (["attribute", "value", "contacts", "fitness", "audit fitness", "fitting"],
                            [[s.attribute, s.value, s.contacts, s.fitness, s.audit_fitness, s.fit_share]
                             for s in result.segment_fitness]),
        "compliance": (["attribute", "value", "contacts", "compliant", "rate"],
                       [[c.attribute, c.value, c.contacts, c.compliant, c.rate] for c in result.compliance]),
        "worst_variants": (["rank", "contacts", "fitness", "audit", "deviations", "example", "activities"],
                           [[w.rank, w.contacts, w.fitness, w.audit_fitness, "; ".join(w.deviations), w.example,
                             " > ".join(w.activities)] for w in result.worst_variants]),
        "alignments": (["rank", "contacts", "cost", "fitness", "deviations", "activities"],
                       [[a.rank, a.contacts, a.cost, a.fitness, "; ".join(a.deviations) or "(fits)",
                         " > ".join(a.activities)] for a in result.alignments]),
    }


def _per_contact(result):
    if result.replay is None:
        from engine.errors import AnalysisError
        raise AnalysisError("This conformance result has no per-contact detail (it was merged from parts)",
                            hint="Write contacts.csv from the result of each part")
    return result.replay


def contact_frame(result):
    """The rows of contacts.csv as a pandas DataFrame: contact_id and CONTACT_COLUMNS, in log order."""
    import numpy as np
    import pandas as pd

    replay = _per_contact(result)
    ids = result.case_ids if result.case_ids is not None else np.arange(len(replay.case_variant))
    table = replay.trace_table()
    return pd.DataFrame({"contact_id": ids, **{c: table[c] for c in CONTACT_COLUMNS}})


def write_contacts_csv(result, folder: str | Path, frame=None) -> Path:
    """contacts.csv: per contact (log order) its id, pm4py's token counts, unknown events and fitness
    (``frame``: those rows gathered otherwise, as ``contact_frame`` returns them, e.g. from partitions)."""
    from engine.atomic import atomic_path

    frame = contact_frame(result) if frame is None else frame
    target = Path(folder) / "contacts.csv"
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\r\n", encoding="utf-8")
    return target


def write_conformance_csv(result, folder: str | Path, *, alignments: bool = False, contacts=None) -> list[Path]:
    """Every table as folder/<table>.csv, and contacts.csv (from ``contacts``, the rows gathered for a
    merged result, else from the result's replay); alignments.csv only when they were asked for."""
    if contacts is None:
        _per_contact(result)
    written = []
    for name, (headers, rows) in conformance_tables(result).items():
        if name == "alignments" and not alignments:
            continue
        written.append(write_csv(folder, f"{name}.csv", headers, rows))
    written.append(write_contacts_csv(result, folder, contacts))
    return written


def _summary(result, source: str) -> list[str]:
    t = result.tokens
    how = "activities not in the SOP count as deviations" if result.unknown_as_deviation else "same as log fitness"
    lines = [f"SOP                {result.sop} ({source})",
             f"contacts           {result.contacts:,}   events {result.events:,}   variants {result.variants:,}",
             f"log fitness        {result.log_fitness:.4f}   (token replay, as pm4py)",
             f"audit fitness      {result.audit_fitness:.4f}   ({how})",
             f"fitting contacts   {_pct(result.fit_share)}   average trace fitness {result.average_trace_fitness:.4f}",
             f"tokens             missing {t['missing']:,}  consumed {t['consumed']:,}  "
             f"remaining {t['remaining']:,}  produced {t['produced']:,}"]
    if result.unknown_activities:
        lines.append("not in the SOP     " + ", ".join(
            f"{a} ({n:,})" for a, n in sorted(result.unknown_activities.items(), key=lambda x: -x[1])))
    return lines


def render_conformance(result, *, source: str, top: int = 20) -> str:
    """The text report: summary, the first ``top`` rows of the deviation table with their evidence,
    then fitness by segment, compliance consistency, worst variants and alignments in full."""
    tables = conformance_tables(result)
    out = _summary(result, source)
    headers, rows = tables["deviations"]
    out += ["", render_table(headers[:-1], [r[:-1] for r in rows[:top]],
                             title="Deviations by step, by impact (contacts x 2 if critical x (1 + cost/min of owner))")]
    if rows[:top]:
        out += ["", "Evidence (example contacts)"] + [f"  {r[0]} / {r[1]}: {r[-1]}" for r in rows[:top]]
    critical = ", ".join(result.critical_steps) or "none declared"
    for name, title in (("segment_fitness", "Fitness by segment"),
                        ("compliance", f"Compliance consistency (critical steps: {critical})"),
                        ("worst_variants", "Worst variants")):
        headers, rows = tables[name]
        if rows:
            out += ["", render_table(headers, rows, title=title)]
    for attr, s in result.compliance_spread.items():
        out.append(f"  spread across {attr}: {_pct(s['min'])} .. {_pct(s['max'])} "
                   f"(range {100 * s['range']:.1f} points, std {100 * s['std']:.1f})")
    if result.alignments:
        headers, rows = tables["alignments"]
        out += ["", render_table(headers, rows, title="Alignments of the most frequent variants (pm4py)")]
    return "\n".join(out)
