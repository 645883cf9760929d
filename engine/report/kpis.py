"""Process-health KPIs as tables, text and JSON: what ``cxmine kpi`` prints and writes.

Text shows each KPI in its unit for people (rates as percentages, times in
human units); CSV and JSON keep the fraction or the seconds, the unit named
in the KPI's name (``aht_s``) and in the ``unit`` column.
"""

from __future__ import annotations

from pathlib import Path

from engine.analyses.kpis import KPI_DEFINITIONS
from engine.report.numbers import Number, format_count, format_share, format_value
from engine.report.tables import render_table, write_csv

# KPIs shown per segment in the terminal (all of them go to JSON and CSV)
SEGMENT_KPIS = ["aht_s", "fcr", "repeat_contact_rate", "transfer_rate", "ping_pong_rate", "escalation_rate",
                "compliance_rate", "reidentification_rate", "queue_wait_s"]
KPI_HEADERS = ["attribute", "segment", "kpi", "value", "numerator", "denominator", "unit"]
SPREAD_HEADERS = ["attribute", "segments", "min", "max", "max_minus_min", "std", "lowest", "highest"]


def _title(result, n_contacts: int, scope) -> str:
    critical = result.critical_steps
    return (f"{format_count(n_contacts)} contacts; repeat window {result.window_days:g} days"
            + (f"; critical steps: {', '.join(critical)}" if critical else "")
            + (f"; compliance scope: contacts with {', '.join(sorted(scope))}" if scope else ""))


def render_kpis(result, n_contacts: int, scope=frozenset()) -> str:
    """The terminal view: every KPI of the whole log, then the main KPIs per segment, then compliance spread."""
    comp = bool(result.critical_steps)
    rows = [[name, Number(format_value(r.value, r.unit)),
             Number(format_value(r.numerator, r.unit if r.unit == "s" else "count")),
             r.denominator, r.unit] for name, r in result.overall.kpis(comp).items()]
    out = [render_table(["kpi", "value", "numerator", "denominator", "unit"], rows,
                        title=_title(result, n_contacts, scope))]
    cols = [c for c in SEGMENT_KPIS if comp or c != "compliance_rate"]
    units = [None, "count"] + [KPI_DEFINITIONS[c][3] for c in cols]
    for attr, segs in result.segments.items():
        seg_rows = [[label, s.measure("contacts")] + [s.kpis(comp)[c].value for c in cols]
                    for label, s in segs.items()]
        out += ["", render_table([attr, "contacts"] + cols, seg_rows, units=units)]
    for attr, sp in result.compliance_spread().items():
        out.append(f"compliance spread across {attr}: max-min {100 * sp['max_minus_min']:.1f} points, "
                   f"std {100 * sp['std']:.1f} (lowest {sp['lowest']} {format_share(sp['min'])}, "
                   f"highest {sp['highest']} {format_share(sp['max'])})")
    return "\n".join(out)


def kpi_rows(result) -> list[list]:
    """Every KPI of the whole log (attribute and segment ``all``) and of every segment, in canonical units."""
    comp = bool(result.critical_steps)
    rows = [["all", "all", n, r.value, r.numerator, r.denominator, r.unit]
            for n, r in result.overall.kpis(comp).items()]
    rows += [[attr, label, n, r.value, r.numerator, r.denominator, r.unit]
             for attr, segs in result.segments.items() for label, s in segs.items()
             for n, r in s.kpis(comp).items()]
    return rows


def write_kpis_csv(folder, result) -> list[Path]:
    """kpis.csv, and compliance_spread.csv when critical steps were given."""
    written = [write_csv(folder, "kpis.csv", KPI_HEADERS, kpi_rows(result))]
    spread = result.compliance_spread()
    if spread:
        written.append(write_csv(folder, "compliance_spread.csv", SPREAD_HEADERS,
                                 [[a] + [s[k] for k in SPREAD_HEADERS[1:]] for a, s in spread.items()]))
    return written


LIBRARY_HEADERS = ["sop", "path", "attribute", "segment", "contacts", "compliant", "in_scope", "compliance_rate"]


def _library_rows(result) -> list[list]:
    """Per SOP, its contacts and compliance overall (attribute ``all``) and per segment."""
    rows = []
    for name, path, k in zip(result.names, result.paths, result.per_sop):
        parts = [("all", "all", k.overall)] + [(attr, label, s) for attr, segs in k.segments.items()
                                                for label, s in segs.items()]
        for attr, label, s in parts:
            r = s.kpis()["compliance_rate"]
            rows.append([name, path, attr, label, s.measure("contacts"), int(r.numerator), r.denominator, r.value])
    return rows


def render_library_kpis(result) -> str:
    """The terminal view of an SOP library: one line per SOP (contacts, compliance with numerator and
    denominator), the contacts no SOP or several apply to, the compliance over all SOPs, each SOP's
    compliance per segment, then every KPI of all the contacts counted."""
    n = result.contacts
    rows = []
    for i, (name, path, k) in enumerate(zip(result.names, result.paths, result.per_sop)):
        r = k.overall.kpis()["compliance_rate"]
        rows.append([name, path, result.sop_contacts(i), result.sop_contacts(i) / n if n else 0.0, r.value,
                     int(r.numerator), r.denominator, ", ".join(k.critical_steps)])
    for what, count, ex in (("(no SOP applies)", result.unmatched, result.unmatched_examples),
                            ("(several SOPs apply)", result.ambiguous, result.ambiguous_examples)):
        rows.append([what, " ".join(ex), count, count / n if n else 0.0, None, None, None, None])
    total = result.compliance
    rows.append(["(all SOPs)", "", n - result.unmatched - result.ambiguous, None, total.value,
                 int(total.numerator), total.denominator, None])
    out = [render_table(["SOP", "model", "contacts", "share", "compliance", "compliant", "in scope",
                         "critical steps"], rows,
                        title=f"SOP library: {format_count(n)} contacts, each measured against the SOP that "
                              "applies to it",
                        units=[None, None, "count", "share", "share", "count", "count", None])]
    for name, k in zip(result.names, result.per_sop):
        for attr, segs in k.segments.items():
            seg_rows = [[label, s.measure("contacts"), s.kpis()["compliance_rate"].value] for label, s in segs.items()]
            out += ["", render_table([attr, "contacts", "compliance_rate"], seg_rows, title=name,
                                     units=[None, "count", "share"])]
    out += ["", render_kpis(result.overall, result.overall.overall.measure("contacts"))]
    return "\n".join(out)


def write_library_kpis_csv(folder, result) -> list[Path]:
    """kpis.csv of all the contacts counted, and sop_compliance.csv: per SOP, its compliance overall and
    per segment, with a row each for the contacts no SOP (``(unmatched)``) or several (``(ambiguous)``)
    apply to."""
    rows = _library_rows(result) + [["(unmatched)", "", "all", "all", result.unmatched, "", "", ""],
                                    ["(ambiguous)", "", "all", "all", result.ambiguous, "", "", ""]]
    return [write_csv(folder, "kpis.csv", KPI_HEADERS, kpi_rows(result.overall)),
            write_csv(folder, "sop_compliance.csv", LIBRARY_HEADERS, rows)]
