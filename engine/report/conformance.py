"""A conformance result as tables: text for the terminal, CSV files for the folder given.

``conformance_tables`` turns an ``engine.analyses.conformance.ConformanceResult``
into ``(headers, rows)`` per table; ``render_conformance`` prints the summary
and the tables; ``write_conformance_csv`` writes one CSV per table (``variants.csv``:
every variant with its contacts, fitness, audit fitness and located deviations) plus
``contacts.csv``, one row per contact with its token counts and fitness. Text shows
counts with separators, shares as percentages and fitness to four decimals; CSV
keeps the values. ``render_library`` and ``write_library_csv`` do the same for an
SOP library (engine.analyses.library).
"""

from __future__ import annotations

from pathlib import Path

from engine.report.numbers import Number, format_share
from engine.report.tables import render_table, write_csv

CONTACT_COLUMNS = ("missing", "consumed", "remaining", "produced", "unknown", "is_fit", "fitness", "audit_fitness")


def _pct(x: float) -> str:
    return format_share(x)


FITNESS = "fitness"     # a text unit of this module: fitness with four decimals (format_value rounds 0.99996 to 1)

# table -> (headers, units for the terminal); CSV gets the raw values
TABLES = {
    "deviations": (["step", "kind", "owner", "critical", "contacts", "share", "impact", "examples"],
                   [None, None, None, None, "count", "share", None, None]),
    "segment_deviations": (["attribute", "value", "step", "kind", "contacts", "examples"],
                           [None, None, None, None, "count", None]),
    "segment_fitness": (["attribute", "value", "contacts", "fitness", "audit fitness", "fitting"],
                        [None, None, "count", FITNESS, FITNESS, "share"]),
    "compliance": (["attribute", "value", "contacts", "compliant", "rate"], [None, None, "count", "count", "share"]),
    "worst_variants": (["rank", "contacts", "fitness", "audit", "deviations", "example", "activities"],
                       ["count", "count", FITNESS, FITNESS, None, None, None]),
    "alignments": (["rank", "contacts", "cost", "fitness", "deviations", "activities"],
                   ["count", "count", None, FITNESS, None, None]),
    "variants": (["activities", "contacts", "example", "fitness", "audit_fitness", "is_fit", "deviations"],
                 [None, "count", None, FITNESS, FITNESS, None, None]),
}


def conformance_tables(result) -> dict[str, tuple[list[str], list[list]]]:
    """The result's tables as (headers, rows), for the terminal and for CSV files."""
    rows = {
        "deviations": [[s.step, s.kind, s.owner, "yes" if s.critical else "", s.contacts, s.share, s.impact,
                        " ".join(s.examples)] for s in result.steps],
        "segment_deviations": [[s.attribute, s.value, s.step, s.kind, s.contacts, " ".join(s.examples)]
                               for s in result.segment_deviations],
        "segment_fitness": [[s.attribute, s.value, s.contacts, s.fitness, s.audit_fitness, s.fit_share]
                            for s in result.segment_fitness],
        "compliance": [[c.attribute, c.value, c.contacts, c.compliant, c.rate] for c in result.compliance],
        "worst_variants": [[w.rank, w.contacts, w.fitness, w.audit_fitness, "; ".join(w.deviations), w.example,
                            " > ".join(w.activities)] for w in result.worst_variants],
        "alignments": [[a.rank, a.contacts, a.cost, a.fitness, "; ".join(a.deviations) or "(fits)",
                        " > ".join(a.activities)] for a in result.alignments],
        "variants": [[" > ".join(v.activities), v.contacts, v.example, v.fitness, v.audit_fitness,
                      "yes" if v.is_fit else "no", "; ".join(v.deviations)]
                     for v in sorted(result.variant_fits, key=lambda v: (-v.contacts, v.first_case))],
    }
    return {name: (list(TABLES[name][0]), rows[name]) for name in TABLES}


def _text_table(name: str, rows: list[list], title: str, columns: slice = slice(None)) -> str:
    """One table for the terminal: counts with separators, shares as percentages, fitness to 4 decimals."""
    headers, units = TABLES[name]
    headers, units = headers[columns], units[columns]
    shown = [[Number(f"{v:.4f}") if u == FITNESS and isinstance(v, float) else v
              for v, u in zip(r[columns], units)] for r in rows]
    return render_table(headers, shown, title=title, units=[None if u == FITNESS else u for u in units])


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
             f"unknown steps      in {result.contacts_with_unknown:,} contacts "
             f"({_pct(result.unknown_contact_share)}): steps not in the SOP",
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
    rows = tables["deviations"][1]
    out += ["", _text_table("deviations", rows[:top], "Deviations by step, by impact (contacts x 2 if critical x "
                                                      "(1 + cost/min of owner))", slice(0, -1))]
    if rows[:top]:
        out += ["", "Evidence (example contacts)"] + [f"  {r[0]} / {r[1]}: {r[-1]}" for r in rows[:top]]
    critical = ", ".join(result.critical_steps) or "none declared"
    for name, title in (("segment_fitness", "Fitness by segment"),
                        ("compliance", f"Compliance consistency (critical steps: {critical})"),
                        ("worst_variants", f"Worst variants (the {result.worst:,} lowest audit fitness)")):
        if tables[name][1]:
            out += ["", _text_table(name, tables[name][1], title)]
    for attr, s in result.compliance_spread.items():
        out.append(f"  spread across {attr}: {_pct(s['min'])} .. {_pct(s['max'])} "
                   f"(range {100 * s['range']:.1f} points, std {100 * s['std']:.1f})")
    if result.alignments:
        out += ["", _text_table("alignments", tables["alignments"][1],
                                "Alignments of the most frequent variants (pm4py)")]
    return "\n".join(out)


def render_library(library, *, top: int = 20) -> str:
    """An SOP library's text report: one summary line per SOP, the contacts no SOP or several SOPs
    apply to, then each SOP's report (render_conformance)."""
    rows = [[r.sop, p, r.contacts, r.contacts / library.contacts if library.contacts else 0.0,
             Number(f"{r.log_fitness:.4f}"), Number(f"{r.audit_fitness:.4f}"), r.fit_share]
            for r, p in zip(library.results, library.paths)]
    for what, n, ex in (("(no SOP applies)", library.unmatched, library.unmatched_examples),
                        ("(several SOPs apply)", library.ambiguous, library.ambiguous_examples)):
        rows.append([what, " ".join(ex), n, n / library.contacts if library.contacts else 0.0, None, None, None])
    out = [render_table(["SOP", "model", "contacts", "share", "fitness", "audit", "fitting"], rows,
                        title=f"SOP library: {library.contacts:,} contacts, each on the SOP that applies to it",
                        units=[None, None, "count", "share", None, None, "share"])]
    for r, p in zip(library.results, library.paths):
        out += ["", "=" * 100, render_conformance(r, source=p, top=top)]
    return "\n".join(out)


def write_library_csv(library, folder: str | Path, *, contacts=None) -> list[Path]:
    """sops.csv (one line per SOP, plus unmatched and ambiguous) and one sub-folder per SOP, named after
    its file, with that SOP's CSV files (``contacts``: per SOP, the rows of contacts.csv gathered for a
    merged result, as ``write_conformance_csv`` takes them)."""
    written = [write_csv(folder, "sops.csv", ["sop", "model", "contacts", "log_fitness", "audit_fitness",
                                              "fit_share", "examples"],
                         [[r.sop, p, r.contacts, r.log_fitness, r.audit_fitness, r.fit_share, ""]
                          for r, p in zip(library.results, library.paths)]
                         + [["(unmatched)", "", library.unmatched, None, None, None,
                             " ".join(library.unmatched_examples)],
                            ["(ambiguous)", "", library.ambiguous, None, None, None,
                             " ".join(library.ambiguous_examples)]])]
    for i, (r, p) in enumerate(zip(library.results, library.paths)):
        written += write_conformance_csv(r, Path(folder) / Path(p).stem,
                                         contacts=None if contacts is None else contacts[i])
    return written
