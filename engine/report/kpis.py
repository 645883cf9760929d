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
